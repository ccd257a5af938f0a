using System.Runtime.InteropServices;

namespace FastTun.Traffic;

/// <summary>The sink's choice between a timer sleep and poll(2) when its ring ran dry (see <see cref="TrafficSink"/>),
/// and the timer sleep itself.</summary>
internal static partial class SinkWait
{
    /// <summary>True when the sink should sleep <c>coalesceNs</c> on a timer: coalescing is on and a frame came less
    /// than <c>idleTicks</c> ago; otherwise it waits in poll(2) for the next frame.</summary>
    public static bool UseTimer(long coalesceNs, long now, long lastFrame, long idleTicks) =>
        coalesceNs > 0 && now - lastFrame < idleTicks;

    private const int ClockMonotonic = 1;

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_nanosleep")]
    private static unsafe partial int ClockNanosleep(int clock, int flags, Timespec* request, Timespec* remain);

    /// <summary>Relative CLOCK_MONOTONIC sleep; an interruption by a signal just ends it early (the loop re-checks).</summary>
    public static unsafe void Sleep(long ns)
    {
        var t = new Timespec { Seconds = ns / 1_000_000_000, Nanoseconds = ns % 1_000_000_000 };
        ClockNanosleep(ClockMonotonic, 0, &t, null);
    }
}
