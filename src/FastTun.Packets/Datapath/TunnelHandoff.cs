using System.Runtime.InteropServices;
using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Datapath;

/// <summary>
/// How a GRE tunnel with output sequence numbers keeps them in wire order with several workers: one worker owns
/// the tunnel's encapsulation (<see cref="OwnerOf"/>), and every other worker hands it the inner packets through
/// a single-producer single-consumer ring, copying the packet into the ring's slot. The owner takes the sequence
/// numbers as it encapsulates and sends everything through its own tx queue, so the numbers leave in the order
/// they were taken (Linux gets the same from one qdisc per tunnel device). The copy only happens for sequenced
/// tunnels, on the workers that do not own them. One ring per ordered pair of workers.
/// </summary>
public sealed class TunnelHandoff : IDisposable
{
    private readonly HandoffRing[] _rings;
    // Per worker: 1 while it may sleep in poll(2); producers read it after publishing (see Worker).
    private readonly int[] _sleeping;

    /// <param name="maxPacket">Largest inner packet a ring slot must hold (the largest tunnel MTU).</param>
    public TunnelHandoff(int workers, int slotsPerRing = 1024, int maxPacket = 2048 - HandoffRing.Headroom)
    {
        if (workers is < 1 or > Tunnel.MaxWorkers) throw new ArgumentOutOfRangeException(nameof(workers));
        Workers = workers;
        _rings = new HandoffRing[workers * workers];
        _sleeping = new int[workers * 16]; // one cache line per worker
        for (int from = 0; from < workers; from++)
            for (int to = 0; to < workers; to++)
                if (from != to) _rings[from * workers + to] = new HandoffRing(slotsPerRing, (maxPacket + HandoffRing.Headroom + 63) & ~63);
    }

    public int Workers { get; }

    /// <summary>Called with a worker index when a producer handed it packets while it may be asleep; the gateway
    /// wakes the worker (an eventfd in its poll set).</summary>
    public Action<int>? Wake { get; set; }

    /// <summary>The worker that encapsulates <paramref name="tunnel"/>: fixed for the tunnel's lifetime (a reload
    /// that keeps the tunnel keeps its owner, and its sequence numbers).</summary>
    public static int OwnerOf(Tunnel tunnel, int workers) => (int)(tunnel.OwnerHash % (uint)workers);

    internal HandoffRing Ring(int from, int to) => _rings[from * Workers + to];

    /// <summary>Worker side: marks <paramref name="worker"/> as about to sleep (true) or awake. Full fence after
    /// the store: a producer that publishes after it reads the flag as set, or the worker sees the packets.</summary>
    public void SetSleeping(int worker, bool sleeping)
    {
        Volatile.Write(ref _sleeping[worker * 16], sleeping ? 1 : 0);
        Interlocked.MemoryBarrier(); // Dekker with NotifyIfSleeping: store flag, then read rings
    }

    /// <summary>True when some ring towards <paramref name="worker"/> holds packets it has not taken.</summary>
    public bool HasInbound(int worker)
    {
        for (int from = 0; from < Workers; from++)
            if (from != worker && _rings[from * Workers + worker].Pending > 0) return true;
        return false;
    }

    internal void NotifyIfSleeping(int worker)
    {
        Interlocked.MemoryBarrier(); // Dekker with SetSleeping: publish, then read the flag
        if (Volatile.Read(ref _sleeping[worker * 16]) != 0) Wake?.Invoke(worker);
    }

    public void Dispose()
    {
        foreach (var r in _rings) r?.Dispose();
    }
}

/// <summary>
/// Single-producer single-consumer ring of packet slots in native memory (2 KiB each by default, with the pool's
/// headroom in front so the consumer encapsulates in place). The producer copies a packet in and publishes the head; the
/// consumer takes slots as frames, transmits them, then releases them (the tail), as the kernel's rings do, with
/// cached copies of the other side's index.
/// </summary>
internal sealed unsafe class HandoffRing : IDisposable
{
    public const int Headroom = FramePool.DefaultHeadroom;
    private readonly int SlotSize;

    private readonly int _mask;
    private byte* _memory;
    private readonly int[] _length;
    private readonly ushort[] _inPort;
    private readonly Tunnel?[] _tunnel;
    private Indices _indices;

    [StructLayout(LayoutKind.Explicit, Size = 192)]
    private struct Indices
    {
        [FieldOffset(0)] public long Head;        // producer writes (release), consumer reads (acquire)
        [FieldOffset(8)] public long CachedTail;  // producer's copy
        [FieldOffset(64)] public long Tail;       // consumer writes (release), producer reads (acquire)
        [FieldOffset(72)] public long CachedHead; // consumer's copy
        [FieldOffset(80)] public long Taken;      // consumer: slots handed out as frames, not yet released
    }

    public HandoffRing(int slots, int slotSize)
    {
        SlotSize = slotSize;
        if (slots < 2 || (slots & (slots - 1)) != 0) throw new ArgumentOutOfRangeException(nameof(slots), "a power of two");
        _mask = slots - 1;
        _memory = (byte*)NativeMemory.AlignedAlloc((nuint)slots * (nuint)SlotSize, 64);
        _length = new int[slots];
        _inPort = new ushort[slots];
        _tunnel = new Tunnel?[slots];
    }

    /// <summary>Packets published and not yet taken (any thread; a snapshot).</summary>
    public long Pending => Volatile.Read(ref _indices.Head) - Volatile.Read(ref _indices.Tail) - Volatile.Read(ref _indices.Taken);

    /// <summary>Producer: copies <paramref name="packet"/> into the next slot and publishes it. False when the
    /// ring is full or the packet does not fit a slot.</summary>
    public bool TryPush(ReadOnlySpan<byte> packet, Tunnel tunnel, ushort inPort)
    {
        if (packet.Length > SlotSize - Headroom) return false;
        long head = _indices.Head;
        if (head - _indices.CachedTail > _mask)
        {
            _indices.CachedTail = Volatile.Read(ref _indices.Tail); // acquire: the consumer is done with the slot
            if (head - _indices.CachedTail > _mask) return false;
        }
        int slot = (int)(head & _mask);
        packet.CopyTo(new Span<byte>(_memory + (long)slot * SlotSize + Headroom, packet.Length));
        _length[slot] = packet.Length;
        _inPort[slot] = inPort;
        _tunnel[slot] = tunnel;
        Volatile.Write(ref _indices.Head, head + 1); // release: the slot's bytes and metadata before the head
        return true;
    }

    /// <summary>Consumer: takes the next published packet as a frame over its slot (encapsulated in place).</summary>
    public bool TryTake(ref Frame frame, out Tunnel? tunnel)
    {
        long next = _indices.Tail + _indices.Taken;
        if (next >= _indices.CachedHead)
        {
            _indices.CachedHead = Volatile.Read(ref _indices.Head); // acquire: pairs with TryPush's release
            if (next >= _indices.CachedHead) { tunnel = null; return false; }
        }
        int slot = (int)(next & _mask);
        frame.Buffer = (nint)(_memory + (long)slot * SlotSize);
        frame.Handle = ulong.MaxValue; // no port's buffer: ports copy it
        frame.Offset = Headroom;
        frame.Length = _length[slot];
        frame.Capacity = SlotSize;
        frame.InPort = _inPort[slot];
        frame.OutPort = PacketBatch.NoPort;
        frame.Flags = FrameFlags.Handoff;
        tunnel = _tunnel[slot];
        _tunnel[slot] = null;
        Volatile.Write(ref _indices.Taken, _indices.Taken + 1); // read by Pending on other threads (a count only)
        return true;
    }

    /// <summary>Consumer: gives back every slot taken since the last release (after they were transmitted).</summary>
    public void ReleaseTaken()
    {
        long taken = _indices.Taken;
        if (taken == 0) return;
        Volatile.Write(ref _indices.Taken, 0);
        Volatile.Write(ref _indices.Tail, _indices.Tail + taken); // release: the consumer no longer reads the slots
    }

    public void Dispose()
    {
        if (_memory != null)
        {
            NativeMemory.AlignedFree(_memory);
            _memory = null;
        }
    }
}
