using System.Diagnostics;
using FastTun.Linux.Interop;
using FastTun.Linux.Ports;
using FastTun.Packets.Datapath;

namespace FastTun.Traffic;

/// <summary>What a sink run saw. Times in nanoseconds (Stopwatch ticks on Linux = CLOCK_MONOTONIC ns).</summary>
public sealed record SinkResult
{
    public long Frames { get; init; }
    public long Packets { get; init; }
    public long Bytes { get; init; }
    /// <summary>From the first to the last generator packet.</summary>
    public double ActiveSeconds { get; init; }
    public double WallSeconds { get; init; }
    public long Lost { get; init; }
    public long Reordered { get; init; }
    public long Duplicates { get; init; }
    public long BadChecksum { get; init; }
    public long ArpAnswered { get; init; }
    public long Other { get; init; }
    public int Flows { get; init; }
    public long RxDropped { get; init; }
    public long RxBatches { get; init; }
    public long Syscalls { get; init; }
    /// <summary>Waits on the coalescing timer (no wake-up by the sender) and in poll(2) (woken by the next frame).</summary>
    public long TimerSleeps { get; init; }
    public long PollSleeps { get; init; }
    public long LatencySamples { get; init; }
    public long LatencyMinNs { get; init; }
    public double LatencyMeanNs { get; init; }
    public long LatencyP50Ns { get; init; }
    public long LatencyP99Ns { get; init; }
    public long LatencyP999Ns { get; init; }
    public long LatencyMaxNs { get; init; }

    public double Pps => ActiveSeconds > 0 ? Packets / ActiveSeconds : 0;
    public double Bps => ActiveSeconds > 0 ? Bytes * 8.0 / ActiveSeconds : 0;
}

/// <summary>
/// The receive loop: RxBurst a batch, classify every frame, account sequence and latency, answer ARP for
/// <c>answerIp</c>, RxDone. When nothing arrives for a few passes it waits, so an idle sink sharing a core with
/// the generator costs almost nothing. No allocation per packet.
/// How it waits decides what it costs the sender: a sink asleep in poll(2) is on the socket's wait queue, so the
/// frame that arrives next wakes it from inside whoever delivered it (on veth: the device under test's transmit
/// syscall or softirq, a cross-CPU wake-up when the sink runs elsewhere), once per frame at rates where the sink
/// drains faster than frames come. With <c>coalesce</c> &gt; 0 the sink sleeps that long on a timer instead (not on
/// the wait queue: delivery wakes no one), like a NIC's rx interrupt coalescing; after <see cref="CoalesceIdle"/>
/// without a frame it goes back to poll(2), so an idle sink still costs nothing, and only the first frame of a
/// burst wakes it. Latency samples then include up to one sleep.
/// </summary>
public sealed class TrafficSink : IDisposable
{
    private const int SpinPasses = 16;
    /// <summary>How long after the last frame the coalescing sink keeps sleeping on its timer before it goes back to
    /// waiting in poll(2).</summary>
    public static readonly TimeSpan CoalesceIdle = TimeSpan.FromMilliseconds(20);
    /// <summary>After a stop, how long the ring must stay empty before the sink reports (several AF_PACKET block timeouts).</summary>
    public static readonly TimeSpan DrainQuiet = TimeSpan.FromMilliseconds(5);
    /// <summary>After a stop, the longest the sink keeps counting a ring that never empties (a flood still running).</summary>
    public static readonly TimeSpan DrainLimit = TimeSpan.FromMilliseconds(200);
    /// <summary>Longest timer sleep accepted: the sink's rx ring (4096 frames) must not overflow during one sleep at
    /// the generator's rate (about 1 Mpps here: 4 ms).</summary>
    public static readonly TimeSpan MaxCoalesce = TimeSpan.FromMilliseconds(1);
    private readonly long _coalesceNs;
    private readonly PacketPort _port;
    private readonly byte[] _mac;
    private readonly uint _answerIp;
    private readonly PacketBatch _batch = new(256);
    private readonly PacketBatch _replies = new(16);
    private readonly FramePool _replyPool = new(16);
    private readonly TrafficFlowTracker _tracker;
    private readonly TrafficHistogram _latency = new();

    public TrafficSink(PacketPort port, byte[] mac, uint answerIp = 0, int maxFlows = 65536, TimeSpan coalesce = default)
    {
        if (coalesce < TimeSpan.Zero || coalesce > MaxCoalesce)
            throw new ArgumentOutOfRangeException(nameof(coalesce), coalesce, $"rx coalescing must be 0 to {MaxCoalesce.TotalMicroseconds} µs");
        _coalesceNs = (long)(coalesce.TotalMicroseconds * 1000);
        _port = port;
        _mac = mac;
        _answerIp = answerIp;
        _tracker = new TrafficFlowTracker(maxFlows);
    }

    public unsafe SinkResult Run(TimeSpan duration, Func<bool> stop)
    {
        long freq = Stopwatch.Frequency;
        double nsPerTick = 1e9 / freq;
        long start = Stopwatch.GetTimestamp();
        long end = duration > TimeSpan.Zero ? start + (long)(duration.TotalSeconds * freq) : long.MaxValue;
        long first = 0, last = 0, frames = 0, packets = 0, bytes = 0, bad = 0, arp = 0, other = 0;
        long rxDropped0 = _port.Counters.RxDropped, batches0 = _port.Counters.RxBatches, syscalls0 = _port.Counters.Syscalls;
        var pfd = new Libc.pollfd { fd = _port.PollFd, events = Libc.POLLIN };
        int idle = 0;
        long now = start, lastFrame = long.MinValue / 2, coalesceIdleTicks = (long)(CoalesceIdle.TotalSeconds * freq);
        long timerSleeps = 0, pollSleeps = 0;
        // Stopped (SIGINT, SIGTERM), the sink first counts what its ring already holds: a script that stops it once the
        // generator has finished gets every frame the kernel delivered, not only those read before the signal. The drain
        // ends once the ring has stayed empty for DrainQuiet (AF_PACKET hands over a part-filled block after its 1 ms
        // timeout), or after DrainLimit under a flood that keeps the ring full.
        const long Running = long.MaxValue; // stoppedAt until the stop
        long stoppedAt = Running, drainLimit = (long)(DrainLimit.TotalSeconds * freq), drainQuiet = (long)(DrainQuiet.TotalSeconds * freq);
        while (true)
        {
            now = Stopwatch.GetTimestamp();
            if (stoppedAt == Running)
            {
                if (now >= end) break;
                if (stop()) stoppedAt = now;
            }
            else if (now - stoppedAt >= drainLimit) break;
            _batch.Clear();
            int n = _port.RxBurst(_batch);
            if (n == 0)
            {
                if (stoppedAt != Running)
                {
                    // Drained: no frame for DrainQuiet since the stop or since the last frame after it.
                    if (now - Math.Max(lastFrame, stoppedAt) >= drainQuiet) break;
                    Libc.poll(&pfd, 1, 1);
                    continue;
                }
                if (++idle < SpinPasses) continue;
                idle = 0;
                _port.Flush();
                if (SinkWait.UseTimer(_coalesceNs, now, lastFrame, coalesceIdleTicks))
                {
                    timerSleeps++;
                    SinkWait.Sleep(_coalesceNs);
                }
                else
                {
                    pollSleeps++;
                    Libc.poll(&pfd, 1, 10);
                }
                continue;
            }
            idle = 0;
            now = Stopwatch.GetTimestamp(); // after the burst: every frame in it was sent before this
            lastFrame = now;
            for (int i = 0; i < n; i++)
            {
                ref Frame f = ref _batch[i];
                frames++;
                switch (TrafficClassifier.Classify(f.Data, out ushort flow, out ulong seq, out long stamp))
                {
                    case TrafficKind.Traffic:
                        packets++;
                        bytes += f.Length;
                        _tracker.Record(flow, seq);
                        // Same machine, same clock: the generator's timestamp is directly comparable.
                        _latency.Record((long)((now - stamp) * nsPerTick));
                        break;
                    case TrafficKind.BadChecksum:
                        bad++;
                        break;
                    case TrafficKind.Arp:
                        if (_answerIp != 0 && Answer(f.Data)) arp++;
                        break;
                    default:
                        other++;
                        break;
                }
            }
            if (packets > 0)
            {
                if (first == 0) first = now;
                last = now;
            }
            _port.RxDone(_batch);
        }
        _port.Flush();
        return new SinkResult
        {
            Frames = frames,
            Packets = packets,
            Bytes = bytes,
            ActiveSeconds = packets > 1 ? (last - first) / (double)freq : 0,
            WallSeconds = (now - start) / (double)freq,
            Lost = Math.Max(0, _tracker.Missing),
            Reordered = _tracker.Reordered,
            Duplicates = _tracker.Duplicates,
            BadChecksum = bad,
            ArpAnswered = arp,
            Other = other,
            Flows = _tracker.Flows,
            RxDropped = _port.Counters.RxDropped - rxDropped0,
            RxBatches = _port.Counters.RxBatches - batches0,
            Syscalls = _port.Counters.Syscalls - syscalls0,
            TimerSleeps = timerSleeps,
            PollSleeps = pollSleeps,
            LatencySamples = _latency.Count,
            LatencyMinNs = _latency.Count > 0 ? _latency.Min : 0,
            LatencyMeanNs = _latency.Mean,
            LatencyP50Ns = _latency.Percentile(50),
            LatencyP99Ns = _latency.Percentile(99),
            LatencyP999Ns = _latency.Percentile(99.9),
            LatencyMaxNs = _latency.Max,
        };
    }

    /// <summary>Rare path: answers a who-has for our address through the same port.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private bool Answer(Span<byte> frame)
    {
        _replies.Clear();
        ref Frame reply = ref _replies.Add();
        if (!_replyPool.TryRent(ref reply)) return false;
        bool answered = TrafficArp.TryAnswer(frame, _mac, _answerIp, ref reply);
        if (answered)
        {
            reply.OutPort = _port.Id;
            reply.Flags = FrameFlags.Generated;
            _port.TxBurst(_replies);
            _port.Flush();
        }
        _replyPool.Return(reply);
        return answered;
    }

    public void Dispose() => _replyPool.Dispose();
}
