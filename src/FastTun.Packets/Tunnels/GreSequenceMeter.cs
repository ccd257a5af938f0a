using System.Runtime.CompilerServices;

namespace FastTun.Packets.Tunnels;

/// <summary>What the receive side decided about one GRE sequence number (RFC 2890).</summary>
public enum SequenceVerdict : byte
{
    /// <summary>The next number expected.</summary>
    InOrder,
    /// <summary>Ahead of the next expected, inside the window: accepted, the numbers skipped count as lost.</summary>
    Gap,
    /// <summary>Behind the newest one, not seen before: a late packet (with <c>iseq</c> dropped, as Linux does).</summary>
    Reordered,
    /// <summary>Seen before.</summary>
    Duplicate,
    /// <summary>Too far behind to tell (older than the 64 numbers tracked), or a jump ahead beyond the window that
    /// the packets after it have not confirmed yet. Dropped with <c>iseq</c>.</summary>
    OutOfWindow,
    /// <summary>The packet that confirmed a new stream: after a jump, or a peer that restarted from 0. Accepted,
    /// and the window moves to it.</summary>
    Resynchronised,
}

/// <summary>
/// Receive-side state of a GRE tunnel with sequence numbers: the RFC 2890 check that <c>iseq</c> enforces, made
/// robust, plus a meter that turns every sequenced tunnel into a path-quality probe (received, lost, reordered,
/// duplicated, loss rate).
/// <para>
/// Linux accepts a number only when it is newer than the last accepted one, with no window. One spoofed packet
/// carrying last + 2^31 then makes every genuine packet "old" for good, and a peer that restarts from 0 is dropped
/// until it has resent as many packets as before. Here a jump beyond <see cref="Window"/> ahead, or a packet
/// behind the tracked range, only moves the window when <see cref="ConfirmPackets"/> packets in a row continue
/// it (consecutive numbers). A single forged packet changes nothing, a restarted peer loses at most
/// <see cref="ConfirmPackets"/> − 1 packets, and in-window reordering behaves as Linux (late packets dropped with
/// <c>iseq</c>, counted).
/// </para>
/// One instance per tunnel, written by the worker that receives the tunnel (RSS keeps one outer address pair on
/// one queue); the counters are read by the control plane without locks, so a reading may be a batch old.
/// </summary>
public sealed class GreSequenceMeter
{
    /// <summary>How far ahead a number may jump and still be taken as loss rather than a possible forgery: 2^16
    /// packets, far more than any path loses between two packets that arrive.</summary>
    public const uint Window = 1 << 16;
    /// <summary>Packets in a row, with consecutive numbers, that confirm a new stream after a jump or a restart.</summary>
    public const int ConfirmPackets = 3;

    private bool _started;
    private uint _next;          // highest accepted + 1
    private ulong _seen;         // bit i: number (_next - 1 - i) was received
    private uint _candidateNext; // the stream a jump or restart may be starting: its next number
    private int _candidateRun;   // how many packets in a row continued it

    public long Received;
    public long InOrder;
    /// <summary>Numbers skipped by gaps and not filled in by a late packet since.</summary>
    public long Lost;
    public long Reordered;
    public long Duplicates;
    public long OutOfWindow;
    public long Resyncs;

    /// <summary>Lost ÷ (received + lost), 0 before any packet.</summary>
    public double LossRate
    {
        get
        {
            long lost = Volatile.Read(ref Lost), received = Volatile.Read(ref Received); // control plane: a batch-old pair is fine
            return lost <= 0 ? 0 : (double)lost / (received + lost);
        }
    }

    /// <summary>The number the next in-order packet should carry (0 before the first packet).</summary>
    public uint NextExpected => _next;

    /// <summary>Books one received sequence number and says what it was. With <c>iseq</c>, the caller delivers the
    /// packet only when <see cref="Accepts"/> is true for the verdict.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public SequenceVerdict Observe(uint sequence)
    {
        Received++;
        int ahead = (int)(sequence - _next);
        if (_started && ahead == 0)
        {
            Advance(sequence, 0);
            InOrder++;
            return SequenceVerdict.InOrder;
        }
        return ObserveSlow(sequence, ahead);
    }

    /// <summary>Whether <c>iseq</c> delivers a packet with this verdict (in order, a gap, or a confirmed new stream).</summary>
    public static bool Accepts(SequenceVerdict verdict) =>
        verdict is SequenceVerdict.InOrder or SequenceVerdict.Gap or SequenceVerdict.Resynchronised;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private SequenceVerdict ObserveSlow(uint sequence, int ahead)
    {
        if (!_started)
        {
            _started = true;
            Advance(sequence, 0);
            InOrder++;
            return SequenceVerdict.InOrder;
        }
        if (ahead > 0 && (uint)ahead <= Window)
        {
            Advance(sequence, ahead);
            Lost += ahead;
            return SequenceVerdict.Gap;
        }
        if (ahead < 0)
        {
            uint back = _next - 1 - sequence; // 0 = the newest accepted number
            if (back < 64)
            {
                ulong bit = 1UL << (int)back;
                if ((_seen & bit) != 0) return Candidate(sequence, SequenceVerdict.Duplicate, ref Duplicates);
                _seen |= bit;
                Lost--; // it was counted lost when the gap opened
                // A late packet never seen before is reordering, not a new stream: it does not feed the candidate.
                Reordered++;
                return SequenceVerdict.Reordered;
            }
        }
        return Candidate(sequence, SequenceVerdict.OutOfWindow, ref OutOfWindow);
    }

    /// <summary>A packet the window does not take: maybe the start of a new stream (a restarted peer, a real
    /// jump). <see cref="ConfirmPackets"/> consecutive numbers in a row move the window there.</summary>
    private SequenceVerdict Candidate(uint sequence, SequenceVerdict verdict, ref long counter)
    {
        if (_candidateRun > 0 && sequence == _candidateNext) _candidateRun++;
        else _candidateRun = 1;
        _candidateNext = sequence + 1;
        if (_candidateRun < ConfirmPackets)
        {
            counter++;
            return verdict;
        }
        _next = sequence + 1;
        _seen = 1;
        _candidateRun = 0;
        Resyncs++;
        return SequenceVerdict.Resynchronised;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Advance(uint sequence, int skipped)
    {
        int shift = skipped + 1;
        _seen = shift >= 64 ? 1UL : (_seen << shift) | 1UL;
        _next = sequence + 1;
        _candidateRun = 0; // the current stream goes on: whatever a stray packet started is forgotten
    }

    /// <summary>Carries the state over to a rebuilt tunnel (configuration change): a change never restarts it.</summary>
    public void CopyFrom(GreSequenceMeter other)
    {
        _started = other._started;
        _next = other._next;
        _seen = other._seen;
        _candidateNext = other._candidateNext;
        _candidateRun = other._candidateRun;
        Received = other.Received;
        InOrder = other.InOrder;
        Lost = other.Lost;
        Reordered = other.Reordered;
        Duplicates = other.Duplicates;
        OutOfWindow = other.OutOfWindow;
        Resyncs = other.Resyncs;
    }
}
