using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using FastTun.Linux.Interop;
using FastTun.Packets.Datapath;

namespace FastTun.Linux.AfXdp;

// Data path: no allocation, no exceptions, at most one wakeup (a syscall on AF_XDP) per call, none when
// need_wakeup says the other side is making progress on its own.
public abstract unsafe partial class UmemPort
{
    public override int RxBurst(PacketBatch batch)
    {
        uint room = (uint)(batch.Capacity - batch.Count);
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
        uint cons = _rx.CachedConsumer;
        long bytes = 0;
        ushort id = Id;
        int frameSize = _frameSize;
        for (uint i = 0; i < n; i++)
        {
            ref xdp_desc desc = ref _rx.DescAt(cons + i);
            ulong chunk = desc.addr & _chunkMask;
            uint index = (uint)(chunk >> _frameShift);
            if (index >= (uint)_state.Length)
            {
                // A descriptor outside our UMEM would be a kernel bug; skip it rather than hand out wild memory.
                CountViolation();
                continue;
            }
            if (_state[index] != StateFill) CountViolation();
            _state[index] = StateApp;
            // The kernel copied this frame in on the CPU that ran the sender's NAPI (on veth, the generator's
            // CPU), so its first bytes are a cache miss here; one miss per packet, taken serially by the parse
            // pass, was most of the worker's user time (perf, bench/RESULTS.md e2e). Start them all now: the
            // pipeline's first pass then finds them arriving in parallel. The line before the data is the
            // headroom that encapsulation writes its outer header into; the line after holds a tunnel packet's
            // inner headers past the first 64 bytes (GRE options, the inner L4 ports).
            if (Sse.IsSupported)
            {
                byte* data = _umem + desc.addr;
                Sse.Prefetch0(data);
                Sse.Prefetch0(data - 64);
                Sse.Prefetch0(data + 64);
            }
            ref Frame f = ref batch.Add();
            f.Buffer = (nint)(_umem + chunk);
            f.Handle = chunk;
            f.Offset = (int)(desc.addr - chunk);
            f.Length = (int)desc.len;
            f.Capacity = frameSize;
            f.InPort = id;
            bytes += desc.len;
        }
        _rx.CachedConsumer = cons + n;
        _rx.ConsumerRelease();
        Counters.RxPackets += n;
        Counters.RxBytes += bytes;
        Counters.RxBatches++;
        return (int)n;
    }

    public override void RxDone(PacketBatch batch)
    {
        ushort id = Id;
        var u = _u;
        for (int i = 0; i < batch.Count; i++)
        {
            ref Frame f = ref batch[i];
            if (f.InPort != id || (f.Flags & (FrameFlags.TxOwned | FrameFlags.Generated)) != 0) continue;
            if (f.Handle >= _umemLength || f.Buffer != (nint)(_umem + f.Handle)) continue;
            uint index = (uint)(f.Handle >> _frameShift);
            if (_state[index] != StateApp)
            {
                CountViolation();
                continue;
            }
            _state[index] = StateFree;
            _free[u.FreeCount++] = index;
        }
        RefillFillRing();
    }

    public override int TxBurst(PacketBatch batch)
    {
        ReapCompletions();
        uint space = _tx.ProducerFree((uint)batch.Count);
        uint prod = _tx.CachedProducer;
        uint posted = 0;
        long bytes = 0;
        ushort id = Id;
        for (int i = 0; i < batch.Count; i++)
        {
            ref Frame f = ref batch[i];
            if (f.OutPort != id || f.Drop != DropReason.None) continue;
            if (posted == space)
            {
                DropTx(ref f, DropReason.TxRingFull);
                continue;
            }
            if (f.Length <= 0)
            {
                DropTx(ref f, DropReason.Truncated);
                continue;
            }
            ulong addr;
            uint index = (uint)(f.Handle >> _frameShift);
            if ((f.Flags & FrameFlags.Generated) == 0 && f.Handle < _umemLength && f.Buffer == (nint)(_umem + f.Handle)
                && _state[index] == StateApp && f.Offset >= 0 && f.Offset + f.Length <= _frameSize)
            {
                // A frame of our UMEM, received by this port or by any port sharing the UMEM: post the descriptor
                // as it is, no copy; RxDone must leave it alone. The range check matters: the kernel skips a
                // descriptor that leaves its chunk and never completes it, which would lose the frame.
                _state[index] = StateTx;
                f.Flags |= FrameFlags.TxOwned;
                addr = f.Handle + (ulong)f.Offset;
            }
            else
            {
                if (f.Length > _frameSize - _headroom)
                {
                    DropTx(ref f, DropReason.TxTooLarge);
                    continue;
                }
                if (_u.FreeCount == 0)
                {
                    // Every frame is in flight; the tx side is as backed up as a full ring.
                    DropTx(ref f, DropReason.TxRingFull);
                    continue;
                }
                index = _free[--_u.FreeCount];
                _state[index] = StateTx;
                ulong chunk = (ulong)index << _frameShift;
                addr = chunk + (ulong)_headroom;
                f.Data.CopyTo(new Span<byte>(_umem + addr, f.Length));
                Counters.TxCopied++;
            }
            ref xdp_desc desc = ref _tx.DescAt(prod + posted);
            desc.addr = addr;
            desc.len = (uint)f.Length;
            desc.options = 0;
            posted++;
            bytes += f.Length;
        }
        if (posted == 0) return 0;
        _tx.CachedProducer = prod + posted;
        _tx.ProducerSubmit();
        Counters.TxPackets += posted;
        Counters.TxBytes += bytes;
        if (_alwaysWake || _tx.NeedsWakeup()) KickTx();
        return (int)posted;
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void DropTx(ref Frame f, DropReason reason)
    {
        f.Drop = reason;
        Counters.TxDropped++;
    }

    /// <summary>Moves free frames into the fill ring so the kernel always has buffers to receive into.</summary>
    private protected void RefillFillRing()
    {
        var u = _u;
        uint want = (uint)u.FreeCount;
        if (want == 0) return;
        uint space = _fill.ProducerFree(want);
        uint n = want < space ? want : space;
        if (n == 0) return;
        uint prod = _fill.CachedProducer;
        for (uint i = 0; i < n; i++)
        {
            uint index = _free[--u.FreeCount];
            _state[index] = StateFill;
            _fill.AddrAt(prod + i) = (ulong)index << _frameShift;
        }
        _fill.CachedProducer = prod + n;
        _fill.ProducerSubmit();
    }

    /// <summary>Returns frames the kernel finished sending to the free list.</summary>
    private protected void ReapCompletions()
    {
        uint n = _completion.ConsumerAvailable();
        if (n == 0) return;
        uint cons = _completion.CachedConsumer;
        for (uint i = 0; i < n; i++)
        {
            uint index = (uint)(_completion.AddrAt(cons + i) >> _frameShift);
            if (index >= (uint)_state.Length || _state[index] != StateTx)
            {
                CountViolation();
                continue;
            }
            _state[index] = StateFree;
            _free[_u.FreeCount++] = index;
        }
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
