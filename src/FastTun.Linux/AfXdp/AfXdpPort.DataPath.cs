using System.Runtime.CompilerServices;
using FastTun.Linux.Interop;
using FastTun.Packets.Datapath;

namespace FastTun.Linux.AfXdp;

// Data path: no allocation, no exceptions, at most one syscall per call, none when need_wakeup says the
// kernel is making progress on its own.
public sealed unsafe partial class AfXdpPort
{
    public override int RxBurst(PacketBatch batch)
    {
        uint room = (uint)(batch.Capacity - batch.Count);
        if (room == 0) return 0;
        uint ready = _rx.ConsumerAvailable();
        if (ready == 0)
        {
            RefillFillRing();
            // Only the driver sets need_wakeup on the fill ring (zero-copy); copy mode never asks for it.
            if (_fill.NeedsWakeup()) WakeRx();
            return 0;
        }
        uint n = ready < room ? ready : room;
        uint cons = _rx.CachedConsumer;
        long bytes = 0;
        ushort id = Id;
        int frameSize = _options.FrameSize;
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
            _free[_freeCount++] = index;
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
                && _state[index] == StateApp && f.Offset >= 0 && f.Offset + f.Length <= _options.FrameSize)
            {
                // Our own frame: post it where it is; RxDone must leave it alone. The range check matters: the
                // kernel skips a descriptor that leaves its chunk and never completes it, which would lose the frame.
                _state[index] = StateTx;
                f.Flags |= FrameFlags.TxOwned;
                addr = f.Handle + (ulong)f.Offset;
            }
            else
            {
                if (f.Length > _options.FrameSize - _headroom)
                {
                    DropTx(ref f, DropReason.TxTooLarge);
                    continue;
                }
                if (_freeCount == 0)
                {
                    // Every frame is in flight; the tx side is as backed up as a full ring.
                    DropTx(ref f, DropReason.TxRingFull);
                    continue;
                }
                index = _free[--_freeCount];
                _state[index] = StateTx;
                ulong chunk = (ulong)index << _frameShift;
                addr = chunk + (ulong)_headroom;
                f.Data.CopyTo(new Span<byte>(_umem + addr, f.Length));
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
        if (_tx.NeedsWakeup()) KickTx();
        return (int)posted;
    }

    /// <summary>Kicks a tx ring the kernel has not drained yet, reaps completions, refreshes drop counters
    /// about once a second.</summary>
    public override void Flush()
    {
        ReapCompletions();
        // Volatile: the kernel's tx consumer index; frames still in the ring after a budget-limited kick
        // need another one.
        if (_tx.CachedProducer != Volatile.Read(ref *_tx.Consumer) && _tx.NeedsWakeup()) KickTx();
        RefillFillRing();
        long now = Environment.TickCount64;
        if (now - _lastStatisticsTick >= 1000)
        {
            _lastStatisticsTick = now;
            UpdateDropCounters();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void DropTx(ref Frame f, DropReason reason)
    {
        f.Drop = reason;
        Counters.TxDropped++;
    }

    /// <summary>Moves free frames into the fill ring so the kernel always has buffers to receive into.</summary>
    private void RefillFillRing()
    {
        uint want = (uint)_freeCount;
        if (want == 0) return;
        uint space = _fill.ProducerFree(want);
        uint n = want < space ? want : space;
        if (n == 0) return;
        uint prod = _fill.CachedProducer;
        for (uint i = 0; i < n; i++)
        {
            uint index = _free[--_freeCount];
            _state[index] = StateFill;
            _fill.AddrAt(prod + i) = (ulong)index << _frameShift;
        }
        _fill.CachedProducer = prod + n;
        _fill.ProducerSubmit();
    }

    /// <summary>Returns frames the kernel finished sending to the free list.</summary>
    private void ReapCompletions()
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
            _free[_freeCount++] = index;
        }
        _completion.CachedConsumer = cons + n;
        _completion.ConsumerRelease();
    }

    /// <summary>sendto with no data: the kernel drains the tx ring (copy mode: synchronously, up to its budget).
    /// EAGAIN/EBUSY/ENOBUFS/ENETDOWN leave the frames in the ring for the next kick.</summary>
    private void KickTx()
    {
        Counters.Syscalls++;
        Libc.sendto(_fd, null, 0, Libc.MSG_DONTWAIT, null, 0);
    }

    /// <summary>recvfrom with no buffer: lets the driver pick up new fill-ring entries.</summary>
    private void WakeRx()
    {
        Counters.Syscalls++;
        Libc.recvfrom(_fd, null, 0, Libc.MSG_DONTWAIT, null, null);
    }
}
