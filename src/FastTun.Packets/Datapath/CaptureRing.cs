namespace FastTun.Packets.Datapath;

/// <summary>Where a capture taps the data path (<c>fasttun capture --point</c>).</summary>
public enum CapturePoint : byte
{
    /// <summary>Frames as received from a port, before any stage touched them.</summary>
    Rx,
    /// <summary>Frames as handed to a port for transmission: forwarded frames after the L2 rewrite, and the
    /// frames the gateway built (ARP, ICMP, fragments, released pending packets).</summary>
    Tx,
    /// <summary>Frames the pipeline dropped, as received, with the drop reason.</summary>
    Drop,
    /// <summary>Inner IPv4 packets right after decapsulation (no Ethernet header), per tunnel.</summary>
    Decap,
    /// <summary>Outer IPv4 packets right after encapsulation (before the L2 rewrite), per tunnel.</summary>
    Encap,
}

/// <summary>
/// A bounded single-producer (one worker) / single-consumer (the control thread) ring of captured frames.
/// Every slot is allocated when the capture starts; the producer copies at most <see cref="SnapLength"/> bytes
/// into the next free slot, or counts the frame in <see cref="Lost"/> when the ring is full: the data path
/// never waits for the consumer. Indices follow the kernel ring protocol: the producer owns the head, the
/// consumer the tail, each publishes its own with a release store and reads the other's with an acquire load.
/// </summary>
public sealed class CaptureRing
{
    private readonly byte[] _data;
    private readonly int[] _captured;
    private readonly int[] _original;
    private readonly long[] _timestamps;
    private readonly ushort[] _interfaces;
    private readonly DropReason[] _reasons;
    private readonly int _mask;
    private long _head; // next slot the producer fills
    private long _tail; // next slot the consumer reads
    private long _cachedTail; // producer's copy of _tail, refreshed only when the ring looks full
    private long _lost;

    public CaptureRing(int slots = 1024, int snapLength = 2048)
    {
        if (slots < 2 || (slots & (slots - 1)) != 0) throw new ArgumentOutOfRangeException(nameof(slots), "a power of two ≥ 2");
        if (snapLength < 64) throw new ArgumentOutOfRangeException(nameof(snapLength));
        SnapLength = snapLength;
        _mask = slots - 1;
        _data = new byte[slots * snapLength];
        _captured = new int[slots];
        _original = new int[slots];
        _timestamps = new long[slots];
        _interfaces = new ushort[slots];
        _reasons = new DropReason[slots];
    }

    public int SnapLength { get; }
    public int Slots => _mask + 1;
    /// <summary>Frames not captured because the ring was full (the consumer fell behind).</summary>
    public long Lost => Volatile.Read(ref _lost); // written by the producer only; read for the summary

    /// <summary>Producer (worker): copies <paramref name="frame"/>; false and counted when the ring is full.</summary>
    public bool TryWrite(ReadOnlySpan<byte> frame, ushort interfaceId, DropReason reason, long timestampTicks)
    {
        long head = _head;
        if (head - _cachedTail > _mask)
        {
            _cachedTail = Volatile.Read(ref _tail); // acquire: the consumer finished reading the slots before this
            if (head - _cachedTail > _mask)
            {
                Volatile.Write(ref _lost, _lost + 1); // only this thread writes it; the store is for the reader
                return false;
            }
        }
        int slot = (int)(head & _mask);
        int n = Math.Min(frame.Length, SnapLength);
        frame.Slice(0, n).CopyTo(_data.AsSpan(slot * SnapLength, n));
        _captured[slot] = n;
        _original[slot] = frame.Length;
        _timestamps[slot] = timestampTicks;
        _interfaces[slot] = interfaceId;
        _reasons[slot] = reason;
        Volatile.Write(ref _head, head + 1); // release: the slot's contents before the consumer may read it
        return true;
    }

    /// <summary>Consumer: the oldest unread frame, valid until <see cref="Release"/>; false when empty.</summary>
    public bool TryPeek(out CapturedFrame frame)
    {
        long tail = _tail;
        if (tail == Volatile.Read(ref _head)) // acquire: pairs with the producer's release of the slot
        {
            frame = default;
            return false;
        }
        int slot = (int)(tail & _mask);
        frame = new CapturedFrame(new ReadOnlyMemory<byte>(_data, slot * SnapLength, _captured[slot]), _original[slot],
            _timestamps[slot], _interfaces[slot], _reasons[slot]);
        return true;
    }

    /// <summary>Consumer: frees the slot <see cref="TryPeek"/> returned.</summary>
    public void Release() => Volatile.Write(ref _tail, _tail + 1); // release: done reading the slot before the producer reuses it
}

/// <summary>One captured frame as the consumer sees it; <see cref="Data"/> points into the ring.</summary>
/// <param name="TimestampTicks">UTC, in <see cref="DateTime.Ticks"/> units (100 ns) since the Unix epoch.</param>
public readonly record struct CapturedFrame(ReadOnlyMemory<byte> Data, int OriginalLength, long TimestampTicks, ushort Interface, DropReason Reason);
