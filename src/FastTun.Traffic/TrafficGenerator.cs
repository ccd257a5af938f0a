using System.Diagnostics;
using FastTun.Linux.Ports;
using FastTun.Packets.Datapath;

namespace FastTun.Traffic;

/// <summary>What a generator run did.</summary>
/// <param name="Deferred">Frames the port could not take at once (ring full) and that went out in a later burst.</param>
public sealed record GenResult(long Sent, long Bytes, double Seconds, long Deferred, long Syscalls, int Flows)
{
    public double Pps => Seconds > 0 ? Sent / Seconds : 0;
    public double Bps => Seconds > 0 ? Bytes * 8.0 / Seconds : 0;
}

/// <summary>
/// The transmit loop: fills a batch from <see cref="TrafficFrames"/> (flows round-robin, one sequence counter
/// per flow, one timestamp per batch), TxBurst, and keeps whatever the port could not take (ring full) at the
/// front of the batch for the next burst, so a full ring never costs a sequence number. Paced mode is a token
/// bucket: credit grows at the rate, batches are small (rate / 20 000, at most the batch size) so the
/// receiver's backlog sees a smooth stream, and credit is capped (two batches or 256 frames, whichever is more) so a
/// stall is caught up without a burst that overflows a backlog. Bounded by the duration; no allocation in the loop.
/// </summary>
public sealed class TrafficGenerator
{
    /// <summary>Credit kept across a stall (the generator descheduled): enough to catch up after tens of
    /// milliseconds at modest rates, far below a veth backlog (1000) or our tx ring (2048).</summary>
    private const int CatchUpFrames = 256;

    private readonly PacketPort _port;
    private readonly TrafficFrames _frames;
    private readonly PacketBatch _batch;
    private readonly ulong[] _sequence;
    private readonly int _flows;

    public TrafficGenerator(PacketPort port, TrafficFrames frames)
    {
        _port = port;
        _frames = frames;
        _batch = new PacketBatch(frames.Slots);
        _flows = frames.Spec.Flows;
        _sequence = new ulong[_flows];
    }

    /// <param name="rate">Packets per second, or 0 for as fast as the port takes them.</param>
    /// <param name="stop">Checked once per batch; set by SIGINT.</param>
    public GenResult Run(double rate, TimeSpan duration, Func<bool>? stop = null)
    {
        long freq = Stopwatch.Frequency;
        long start = Stopwatch.GetTimestamp();
        long end = start + (long)(duration.TotalSeconds * freq);
        int maxBatch = _batch.Capacity;
        int pacedBatch = rate > 0 ? (int)Math.Clamp(rate / 20000, 1, maxBatch) : maxBatch;
        double credit = 0;
        long lastRefill = start;
        int flow = 0;
        int nextSlot = 0;
        long sent = 0, bytes = 0, deferred = 0;
        long syscalls0 = _port.Counters.Syscalls;
        int pending = 0; // frames carried over from the last burst, at the front of the batch
        var rxBatch = new PacketBatch(64);
        int loops = 0;
        long now = start;

        while (true)
        {
            now = Stopwatch.GetTimestamp();
            if (now >= end || ((++loops & 63) == 0 && stop is not null && stop())) break;
            int want;
            if (rate > 0)
            {
                credit += (now - lastRefill) * rate / freq;
                lastRefill = now;
                double cap = Math.Max(2.0 * pacedBatch, CatchUpFrames);
                if (credit > cap) credit = cap;
                if (credit < 1 && pending == 0)
                {
                    Thread.Yield(); // lets a sink sharing this core run; returns at once otherwise
                    continue;
                }
                want = Math.Min(pacedBatch, pending + (int)credit);
            }
            else
            {
                want = maxBatch;
            }

            // New frames after the carried-over ones.
            _batch.Count = pending;
            for (int i = pending; i < want; i++)
            {
                ref Frame f = ref _batch.Add();
                _frames.Fill(nextSlot, (ushort)flow, _sequence[flow]++, now, ref f);
                f.OutPort = _port.Id;
                if (++nextSlot == _frames.Slots) nextSlot = 0;
                if (++flow == _flows) flow = 0;
            }
            int fresh = _batch.Count - pending;
            if (rate > 0) credit -= fresh;

            int posted = _port.TxBurst(_batch);
            if (posted > 0)
            {
                for (int i = 0; i < posted; i++) bytes += _batch[i].Length;
                sent += posted;
            }
            // The port posts in order and stops at the first frame it cannot take: keep the rest.
            pending = 0;
            for (int i = posted; i < _batch.Count; i++)
            {
                ref Frame f = ref _batch[i];
                if (f.Drop == DropReason.TxTooLarge) ThrowTooLarge(f.Length);
                f.Drop = DropReason.None;
                _batch[pending++] = f;
            }
            if (pending > 0)
            {
                deferred += pending;
                _port.Flush();
                // The receiver pushes back (veth ring or backlog full). Its NAPI work may sit in ksoftirqd on this
                // very CPU at a lower priority than ours: spinning on the kick would starve it (and a sink sharing
                // the core). Yield instead.
                Thread.Yield();
            }
            if ((loops & 255) == 0) DrainRx(rxBatch);
        }
        _port.Flush();
        double seconds = (now - start) / (double)freq;
        // Frames still carried over were never sent: their sequence numbers are simply not used.
        return new GenResult(sent, bytes, seconds, deferred, _port.Counters.Syscalls - syscalls0, _flows);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private void ThrowTooLarge(int length) =>
        throw new InvalidOperationException($"{_port.InterfaceName} cannot send a {length}-byte frame (MTU or AF_XDP frame size)");

    /// <summary>Returns anything that arrived on the generator's own port (ARP, stray traffic) to the kernel.</summary>
    private void DrainRx(PacketBatch rx)
    {
        rx.Clear();
        if (_port.RxBurst(rx) > 0) _port.RxDone(rx);
    }
}
