using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using FastTun.Linux.Interop;
using FastTun.Packets.Datapath;

namespace FastTun.Linux.AfXdp;

// Data path, receive side and frame recycling (transmit: UmemPort.Tx.cs): no allocation, no exceptions, at most
// one wakeup (a syscall on AF_XDP) per call, none when need_wakeup says the other side is making progress on its own.
public abstract unsafe partial class UmemPort
{
    public override int RxBurst(PacketBatch batch)
    {
        int start = batch.Count;
        uint room = (uint)(batch.Capacity - start);
        if (room == 0) return 0;
        uint ready = _rx.ConsumerAvailable();
        if (ready == 0)
        {
            RefillFillRing();
            // Only the driver sets need_wakeup on the fill ring (zero-copy); copy mode never asks for it. A busy-polling
            // socket makes the syscall anyway: it is what runs the device's NAPI loop in this thread, so look again.
            if (!_alwaysWake && !_fill.NeedsWakeup()) return 0;
            WakeRx();
            ready = _rx.ConsumerAvailable();
            if (ready == 0) return 0;
        }
        uint n = ready < room ? ready : room;
        // Everything the loop reads goes into locals: the loop body then keeps them in registers instead of
        // reloading fields through `this` after every store into the batch.
        uint cons = _rx.CachedConsumer;
        uint mask = _rx.Mask;
        xdp_desc* ring = (xdp_desc*)_rx.Entries;
        byte* umem = _umem;
        ulong umemLength = _umemLength;
        ulong chunkMask = _chunkMask;
        int shift = _frameShift;
        int frameSize = _frameSize;
        ushort id = Id;
        // Capacity, InPort and OutPort (NoPort) as one little-endian word (FrameLayoutTests pins the layout).
        ulong portWord = (uint)frameSize | ((ulong)id << 32) | ((ulong)PacketBatch.NoPort << 48);
        ref byte state = ref MemoryMarshal.GetArrayDataReference(_state);
        // The descriptors are written in place: the batch's count covers them first, the real count is set after.
        batch.Count = start + (int)n;
        ref Frame f0 = ref Unsafe.Add(ref MemoryMarshal.GetReference(batch.Frames), start);
        int added = 0;
        long bytes = 0;
        long violations = 0; // counted after the loop: no call inside it
        for (uint i = 0; i < n; i++)
        {
            xdp_desc* desc = ring + ((cons + i) & mask);
            ulong addr = desc->addr;
            uint len = desc->len;
            ulong chunk = addr & chunkMask;
            if (chunk >= umemLength)
            {
                // A descriptor outside our UMEM would be a kernel bug; skip it rather than hand out wild memory.
                violations++;
                continue;
            }
            // chunk < umemLength = frames << shift: the index is inside the state array.
            ref byte s = ref Unsafe.Add(ref state, (nint)(chunk >> shift));
            if (s != StateFill) violations++;
            s = StateApp;
            // The kernel copied this frame in on the CPU that ran the sender's NAPI (on veth, the generator's
            // CPU), so its first bytes are a cache miss here; one miss per packet, taken serially by the parse
            // pass, was most of the worker's user time (perf, bench/RESULTS.md e2e). Start them all now: the
            // pipeline's first pass then finds them arriving in parallel. The line before the data is the
            // headroom that encapsulation writes its outer header into; the line after holds a tunnel packet's
            // inner headers past the first 64 bytes (GRE options, the inner L4 ports).
            byte* data = umem + addr;
            if (Sse.IsSupported)
            {
                Sse.Prefetch0(data);
                Sse.Prefetch0(data - 64);
                Sse.Prefetch0(data + 64);
            }
            ref Frame f = ref Unsafe.Add(ref f0, added++);
            // Every field of the descriptor, in five 8-byte stores instead of zeroing it first and then setting seven:
            // Offset+Length, Capacity+InPort+OutPort, and Drop+Flags+Scratch (all zero) are one store each.
            f.Buffer = (nint)(umem + chunk);
            f.Handle = chunk;
            if (BitConverter.IsLittleEndian)
            {
                Unsafe.As<int, ulong>(ref f.Offset) = (uint)(addr - chunk) | ((ulong)len << 32);
                Unsafe.As<int, ulong>(ref f.Capacity) = portWord;
                Unsafe.As<DropReason, ulong>(ref f.Drop) = 0;
            }
            else
            {
                f = default;
                f.Buffer = (nint)(umem + chunk);
                f.Handle = chunk;
                f.Offset = (int)(addr - chunk);
                f.Length = (int)len;
                f.Capacity = frameSize;
                f.InPort = id;
                f.OutPort = PacketBatch.NoPort;
            }
            bytes += len;
        }
        batch.Count = start + added;
        if (violations != 0) _u.Violations += violations;
        _rx.CachedConsumer = cons + n;
        _rx.ConsumerRelease();
        Counters.RxPackets += added;
        Counters.RxBytes += bytes;
        Counters.RxBatches++;
        return added;
    }

    public override void RxDone(PacketBatch batch)
    {
        Span<Frame> frames = batch.Frames;
        var u = _u;
        int freeCount = u.FreeCount;
        int freeLength = _free.Length;
        long violations = 0; // counted after the loop: no call inside it
        ref Frame f0 = ref MemoryMarshal.GetReference(frames);
        ref uint free = ref MemoryMarshal.GetArrayDataReference(_free);
        ref byte state = ref MemoryMarshal.GetArrayDataReference(_state);
        byte* umem = _umem;
        ulong umemLength = _umemLength;
        int shift = _frameShift;
        ushort id = Id;
        for (int i = 0; i < frames.Length; i++)
        {
            ref Frame f = ref Unsafe.Add(ref f0, i);
            if (f.InPort != id || (f.Flags & (FrameFlags.TxOwned | FrameFlags.Generated)) != 0) continue;
            ulong handle = f.Handle;
            if (handle >= umemLength || f.Buffer != (nint)(umem + handle)) continue;
            uint index = (uint)(handle >> shift);
            ref byte s = ref Unsafe.Add(ref state, (nint)index);
            if (s != StateApp)
            {
                violations++;
                continue;
            }
            // Every frame on the free list is in state Free and each push leaves another state, so the list has
            // room; the compare (two registers) makes a broken invariant a counted violation, never a wild write.
            if (freeCount >= freeLength)
            {
                violations++;
                continue;
            }
            s = StateFree;
            Unsafe.Add(ref free, freeCount++) = index;
        }
        u.FreeCount = freeCount;
        if (violations != 0) u.Violations += violations;
        RefillFillRing();
    }

    /// <summary>Kicks a tx ring the other side has not drained yet, reaps completions, refills the fill ring and
    /// lets the port refresh its statistics.</summary>
    public override void Flush()
    {
        ReapCompletions();
        // Volatile: the consumer's tx index; frames still in the ring after a budget-limited kick need another one.
        if (_tx.CachedProducer != Volatile.Read(ref *_tx.Consumer) && (_alwaysWake || _tx.NeedsWakeup())) KickTx();
        RefillFillRing();
        OnFlush();
    }


    /// <summary>Moves free frames into the fill ring so the kernel always has buffers to receive into.</summary>
    private protected void RefillFillRing()
    {
        var u = _u;
        int freeCount = u.FreeCount;
        if (freeCount == 0) return;
        uint space = _fill.ProducerFree((uint)freeCount);
        uint n = (uint)freeCount < space ? (uint)freeCount : space;
        if (n == 0) return;
        uint prod = _fill.CachedProducer;
        uint mask = _fill.Mask;
        ulong* ring = (ulong*)_fill.Entries;
        int shift = _frameShift;
        // freeCount ≤ the array's length (the free list's invariant): the pops stay inside it; every free index
        // is < the frame count, so the state writes do too.
        ref uint free = ref MemoryMarshal.GetArrayDataReference(_free);
        ref byte state = ref MemoryMarshal.GetArrayDataReference(_state);
        for (uint i = 0; i < n; i++)
        {
            uint index = Unsafe.Add(ref free, --freeCount);
            Unsafe.Add(ref state, (nint)index) = StateFill;
            ring[(prod + i) & mask] = (ulong)index << shift;
        }
        u.FreeCount = freeCount;
        _fill.CachedProducer = prod + n;
        _fill.ProducerSubmit();
    }

    /// <summary>Returns frames the kernel finished sending to the free list.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)] // its own registers: inlined, it made TxBurst's loop spill
    private protected void ReapCompletions()
    {
        uint n = _completion.ConsumerAvailable();
        if (n == 0) return;
        var u = _u;
        int freeCount = u.FreeCount;
        int freeLength = _free.Length;
        long violations = 0; // counted after the loop: no call inside it
        uint cons = _completion.CachedConsumer;
        uint mask = _completion.Mask;
        ulong* ring = (ulong*)_completion.Entries;
        ulong umemLength = _umemLength;
        int shift = _frameShift;
        ref uint free = ref MemoryMarshal.GetArrayDataReference(_free);
        ref byte state = ref MemoryMarshal.GetArrayDataReference(_state);
        for (uint i = 0; i < n; i++)
        {
            ulong addr = ring[(cons + i) & mask];
            if (addr >= umemLength)
            {
                violations++;
                continue;
            }
            uint index = (uint)(addr >> shift);
            ref byte s = ref Unsafe.Add(ref state, (nint)index);
            if (s != StateTx)
            {
                violations++;
                continue;
            }
            // Every frame on the free list is in state Free and each push leaves another state, so the list has
            // room; the compare (two registers) makes a broken invariant a counted violation, never a wild write.
            if (freeCount >= freeLength)
            {
                violations++;
                continue;
            }
            s = StateFree;
            Unsafe.Add(ref free, freeCount++) = index;
        }
        u.FreeCount = freeCount;
        if (violations != 0) u.Violations += violations;
        _completion.CachedConsumer = cons + n;
        _completion.ConsumerRelease();
    }

    /// <summary>Makes the consumer of the tx ring send what it holds (AF_XDP: sendto with no data).</summary>
    protected abstract void KickTx();

    /// <summary>Makes the producer of the rx ring pick up new fill-ring entries (AF_XDP: recvfrom with no buffer).</summary>
    protected abstract void WakeRx();

    /// <summary>Idle-time housekeeping of the subclass (statistics).</summary>
    protected virtual void OnFlush() { }
}
