using System.Diagnostics;
using System.Globalization;

namespace FastTun.Gateway.Dataplane;

/// <summary>
/// How long a worker keeps polling its rings after its last batch before it sleeps in poll(2). A request-response
/// exchange (a ping, a TCP handshake, a DNS query) crosses the gateway twice within a few tens of microseconds; a
/// worker that is still polling finds the answer in its ring without a wake-up (on veth in a VM: an IPI, the
/// scheduler, a context switch, measured in bench/RESULTS.md section e2e). The window starts again at every batch,
/// so only traffic keeps a worker awake: an idle gateway sleeps after one window and uses no CPU. While spinning
/// the worker yields the CPU every pass, so another runnable thread of the same priority (the other gateway on a
/// shared core, ksoftirqd) is not held up by the spin.
/// <c>FASTTUN_WORKER_SPIN_US</c> sets the window; the default is 0 (sleep as soon as a few passes find nothing). A
/// <see cref="SpinBudget"/> keeps all windows together under 1/8 of the time, so traffic whose gaps are just shorter
/// than the window cannot keep a core busy. Measured on veth with both gateways on one core (bench/RESULTS.md,
/// sections e2e and e2e5): windows of 100-300 µs did not shorten a ping across both gateways beyond the noise
/// (e2e5: 200 µs -17 %, -9 % and +15 % against no window in three interleaved rounds; 1000 µs worse), because what
/// costs there is the first, cold pass of each worker after a sleep between pings 20 ms apart. So the window stays
/// opt-in, for dedicated cores.
/// </summary>
public static class WorkerIdlePolicy
{
    public const string SpinVariable = "FASTTUN_WORKER_SPIN_US";
    public const int DefaultSpinMicroseconds = 0;
    public const int MaxSpinMicroseconds = 1_000_000;

    /// <summary>The window from the environment, or the default. Throws naming the variable on a bad value.</summary>
    public static int SpinMicroseconds() => Parse(Environment.GetEnvironmentVariable(SpinVariable));

    public static int Parse(string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) return DefaultSpinMicroseconds;
        if (!int.TryParse(value.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int us) || us > MaxSpinMicroseconds)
            throw new InvalidOperationException($"{SpinVariable}='{value}': expected microseconds from 0 to {MaxSpinMicroseconds}");
        return us;
    }

    /// <summary>Microseconds as <see cref="Stopwatch"/> ticks.</summary>
    public static long ToTicks(int microseconds) => microseconds * Stopwatch.Frequency / 1_000_000;
}

/// <summary>
/// Caps the CPU a worker's busy-poll windows take (<see cref="WorkerIdlePolicy"/>): spinning may use at most one
/// part in 2^<c>shareShift</c> of the time that passes (default 1/8), banked up to two windows, like a token bucket.
/// A ping every 20 ms gets its whole window every time; traffic with gaps just shorter than the window, which would
/// otherwise keep the worker polling without end, costs at most that share of a core on top of the packet work.
/// No traffic opens no window at all, so an idle worker never spins. Time values are <see cref="Stopwatch"/> ticks.
/// </summary>
public struct SpinBudget
{
    private readonly long _window;
    private readonly int _shareShift;
    private long _tokens;
    private long _last;
    private bool _spinning;

    public SpinBudget(long windowTicks, int shareShift = 3)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(windowTicks);
        ArgumentOutOfRangeException.ThrowIfNegative(shareShift);
        _window = windowTicks;
        _shareShift = shareShift;
        _tokens = 2 * windowTicks;
        _last = long.MinValue;
        _spinning = false;
    }

    /// <summary>Whether the worker, finding nothing at <paramref name="now"/> with its last batch at
    /// <paramref name="lastWork"/> (0 = never), polls once more instead of sleeping. Call it once per empty pass after
    /// the first few: the time since the previous call is charged as spinning when that call said spin and no batch
    /// came in between.</summary>
    public bool Allow(long now, long lastWork)
    {
        if (_window == 0 || lastWork == 0) return Settle(now, false);
        if (_last != long.MinValue)
        {
            long dt = now - _last;
            if (dt < 0) dt = 0;
            if (_spinning && lastWork <= _last) _tokens -= dt;
            _tokens = Math.Min(2 * _window, _tokens + (dt >> _shareShift));
        }
        return Settle(now, now - lastWork < _window && _tokens > 0);
    }

    private bool Settle(long now, bool spin)
    {
        _last = now;
        _spinning = spin;
        return spin;
    }

    /// <summary>Ticks the worker may still spin before the budget is spent (for tests).</summary>
    public readonly long Tokens => _tokens;
}
