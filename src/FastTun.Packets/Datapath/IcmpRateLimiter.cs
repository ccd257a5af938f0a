namespace FastTun.Packets.Datapath;

/// <summary>
/// Token bucket for ICMP errors a worker generates, like Linux's net.ipv4.icmp_msgs_per_sec (1000) and
/// icmp_msgs_burst (50). One per worker: no atomics. Echo replies are not limited (Linux does not limit them
/// by default either: icmp_ratemask excludes echo reply).
/// </summary>
public sealed class IcmpRateLimiter
{
    private readonly int _perSecond;
    private readonly int _burst;
    private long _tokensMilli; // tokens × 1000, so refill needs no division per call
    private long _lastMs;

    public IcmpRateLimiter(int perSecond = 1000, int burst = 50, long nowMs = 0)
    {
        if (perSecond <= 0 || burst <= 0) throw new ArgumentOutOfRangeException(nameof(perSecond));
        _perSecond = perSecond;
        _burst = burst;
        _tokensMilli = (long)burst * 1000;
        _lastMs = nowMs;
    }

    /// <summary>Takes a token if one is available at <paramref name="nowMs"/>.</summary>
    public bool TryTake(long nowMs)
    {
        long elapsed = nowMs - _lastMs;
        if (elapsed > 0)
        {
            _tokensMilli = Math.Min((long)_burst * 1000, _tokensMilli + elapsed * _perSecond);
            _lastMs = nowMs;
        }
        if (_tokensMilli < 1000) return false;
        _tokensMilli -= 1000;
        return true;
    }
}
