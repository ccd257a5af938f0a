using System.Globalization;

namespace FastTun.Linux.Interop;

/// <summary>
/// Signals a process inherits as ignored. nohup starts its command with SIGHUP ignored, and a non-interactive shell
/// starts a background job (<c>cmd &amp;</c>) with SIGINT and SIGQUIT ignored; the ignored disposition survives exec.
/// .NET keeps it: a <see cref="System.Runtime.InteropServices.PosixSignalRegistration"/> for such a signal never runs, so
/// <c>kill -HUP</c> would not reload a gateway started under nohup, and <c>kill -INT $!</c> would not stop a sink a script
/// started in the background. FastTun's commands document SIGHUP (reload) and SIGINT (stop) as their controls, as nginx
/// and tcpdump do theirs, and take them back before registering.
/// </summary>
public static class InheritedSignals
{
    /// <summary>Of <paramref name="signals"/> (Linux numbers, 1–63), those this process holds ignored
    /// (/proc/self/status SigIgn), set back to the default disposition; returns them, in the order given. Call before registering the
    /// handlers: a signal that arrives in between takes its default action.</summary>
    public static IReadOnlyList<int> Reclaim(params int[] signals)
    {
        ulong ignored = IgnoredMask(File.ReadAllText("/proc/self/status"));
        var reclaimed = new List<int>();
        foreach (int s in signals)
        {
            if (s is < 1 or > 63) throw new ArgumentOutOfRangeException(nameof(signals), s, "a signal number is 1..63");
            if ((ignored & (1UL << (s - 1))) == 0) continue;
            if (Libc.signal(s, Libc.SIG_DFL) == -1) // SIG_ERR
                throw new LinuxException($"signal({s}, SIG_DFL)", Libc.errno);
            reclaimed.Add(s);
        }
        return reclaimed;
    }

    /// <summary>The SigIgn mask of a /proc/PID/status text (bit n − 1 for signal n); 0 when the line is missing.</summary>
    public static ulong IgnoredMask(string status)
    {
        foreach (var line in status.Split('\n'))
            if (line.StartsWith("SigIgn:", StringComparison.Ordinal))
                return ulong.Parse(line.AsSpan(7).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        return 0;
    }

    /// <summary>The usual name of signal <paramref name="signal"/> for a log line ("SIGHUP"), else "signal N".</summary>
    public static string Name(int signal) => signal switch
    {
        Libc.SIGHUP => "SIGHUP", Libc.SIGINT => "SIGINT", Libc.SIGQUIT => "SIGQUIT", Libc.SIGTERM => "SIGTERM",
        _ => $"signal {signal}",
    };
}
