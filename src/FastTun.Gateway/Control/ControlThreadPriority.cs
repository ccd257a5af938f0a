using System.Globalization;
using FastTun.Linux.Interop;

namespace FastTun.Gateway.Control;

/// <summary>
/// Scheduling of the control threads (accept and the connection pool), set by each thread at start-up, before the
/// gateway drops its privileges. They sleep in accept/read almost always and a request does bounded work (a
/// counter snapshot, one route insert, well under a millisecond), so priority costs the workers nothing while idle;
/// under saturation (workers, softirq and a load generator on every CPU) a waking control thread runs at once
/// instead of waiting out others' time slices, which is what keeps a `show stats` answer within its p99 target.
/// <c>FASTTUN_CONTROL_SCHED</c> chooses:
/// <list type="bullet">
/// <item><c>fifo</c> (default): SCHED_FIFO, one above the process's own real-time priority (1 for a normal process,
/// 11 for a gateway under <c>chrt -r 10</c>), so requests also pass the gateway's own workers. A runaway is
/// bounded by the kernel's RT throttling (sched_rt_runtime_us leaves 5 % of each CPU to normal tasks) and by the
/// requests' deadlines; capture streams, the one unbounded job, drop back to <c>nice</c> for their duration.</item>
/// <item><c>nice</c>: nice ten steps above the process's own (−10 for a process at 0).</item>
/// <item><c>off</c>: the process's own scheduling.</item>
/// </list>
/// Without the privilege (CAP_SYS_NICE, or root) fifo falls back to nice, and nice to nothing.
/// </summary>
internal static class ControlThreadPriority
{
    public const string Variable = "FASTTUN_CONTROL_SCHED";
    public const int Nice = -10;

    public enum Mode { Fifo, Nice, Off }

    /// <summary>Ten steps above the process's own nice value (−10 for a process at 0, −20 at most), so a gateway
    /// started with a raised priority keeps its control threads ahead of its own workers.</summary>
    public static int Target { get; } = Math.Max(-20, ProcessField(NiceIndex) + Nice);

    /// <summary>SCHED_FIFO priority of the control threads: one above the process's real-time priority.</summary>
    public static int FifoPriority { get; } = Math.Clamp(ProcessField(RtPriorityIndex) + 1, 1, 99);

    public static Mode Configured { get; } = Parse(Environment.GetEnvironmentVariable(Variable));

    public static Mode Parse(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "fifo" => Mode.Fifo,
        "nice" => Mode.Nice,
        "off" => Mode.Off,
        _ => throw new InvalidOperationException($"{Variable}='{value}': expected fifo, nice or off"),
    };

    /// <summary>Applies <see cref="Configured"/> to the calling thread; returns what it got.</summary>
    public static unsafe Mode Raise()
    {
        var mode = Configured;
        if (mode == Mode.Fifo)
        {
            int priority = FifoPriority;
            // RESET_ON_FORK: a thread this one starts does not inherit real-time priority by accident.
            if (Libc.sched_setscheduler(0, Libc.SCHED_FIFO | Libc.SCHED_RESET_ON_FORK, &priority) == 0) return Mode.Fifo;
            mode = Mode.Nice;
        }
        if (mode == Mode.Nice && Libc.setpriority(Libc.PRIO_PROCESS, (uint)Libc.gettid(), Target) == 0) return Mode.Nice;
        return Mode.Off;
    }

    /// <summary>Back to normal scheduling at the nice target for unbounded work (a capture stream). Always allowed;
    /// the thread cannot get real-time priority back once the gateway has dropped its privileges.</summary>
    public static unsafe void Lower()
    {
        int zero = 0;
        Libc.sched_setscheduler(0, Libc.SCHED_OTHER, &zero);
        Libc.setpriority(Libc.PRIO_PROCESS, (uint)Libc.gettid(), Target);
    }

    private const int NiceIndex = 16;        // field 19 of /proc/self/stat, counted after the command name
    private const int RtPriorityIndex = 37;  // field 40

    /// <summary>A numeric field of /proc/self/stat (after the parenthesised command name); 0 when unreadable.</summary>
    private static int ProcessField(int index)
    {
        try
        {
            string stat = File.ReadAllText("/proc/self/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return int.Parse(fields[index], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return 0;
        }
    }
}
