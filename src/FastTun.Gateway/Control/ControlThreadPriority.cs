using FastTun.Linux.Interop;

namespace FastTun.Gateway.Control;

/// <summary>
/// Gives the control threads nice −10. They sleep in accept/read almost always, so this costs the workers
/// nothing while idle, but when the CPUs are saturated (workers, softirq, a load generator) a waking control
/// thread is scheduled ahead of them instead of waiting out their time slices: the 10 ms answer target
/// holds under load. Best effort: without the privilege the thread keeps the default priority.
/// </summary>
internal static class ControlThreadPriority
{
    public const int Nice = -10;

    /// <summary>Ten steps above the process's own nice value (−10 for a process at 0, −20 at most), so a gateway
    /// started with a raised priority keeps its control threads ahead of its own workers.</summary>
    public static int Target { get; } = Math.Max(-20, ProcessNice() + Nice);

    public static void Raise() => Libc.setpriority(Libc.PRIO_PROCESS, (uint)Libc.gettid(), Target);

    /// <summary>Field 19 of /proc/self/stat (after the parenthesised command name); 0 when unreadable.</summary>
    private static int ProcessNice()
    {
        try
        {
            string stat = File.ReadAllText("/proc/self/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return int.Parse(fields[16], System.Globalization.CultureInfo.InvariantCulture); // field 19 overall
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return 0;
        }
    }
}
