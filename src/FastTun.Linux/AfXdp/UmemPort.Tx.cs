using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastTun.Linux.Interop;
using FastTun.Packets.Datapath;

namespace FastTun.Linux.AfXdp;

// Data path, transmit side: zero-copy descriptors for frames of the UMEM, the copy path for the rest.
public abstract unsafe partial class UmemPort
{
    public override int TxBurst(PacketBatch batch)
    {
        ReapCompletions();
        Span<Frame> frames = batch.Frames;
        if (frames.IsEmpty) return 0;
        var tx = new TxState
        {
            Ring = (xdp_desc*)_tx.Entries,
            Mask = _tx.Mask,
            Next = _tx.CachedProducer,
            End = _tx.CachedProducer + _tx.ProducerFree((uint)frames.Length),
            Umem = _umem,
            UmemLength = _umemLength,
            Shift = _frameShift,
            FrameSize = (uint)_frameSize,
            State = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_state)),
            Id = Id,
        };
        uint first = tx.Next;
        // The zero-copy loop makes no call, so everything it needs stays in registers; it stops at a frame that needs
        // the copy path, which runs here, and the loop resumes after it (descriptors keep the batch's order).
        fixed (Frame* f0 = frames)
        {
            int i = 0;
            while ((i = PostZeroCopy(ref tx, f0, i, frames.Length)) < frames.Length)
            {
                ref Frame f = ref f0[i++];
                ulong addr = TxCopy(ref f);
                if (addr == NoAddress) continue;
                xdp_desc* desc = tx.Ring + (tx.Next++ & tx.Mask);
                desc->addr = addr;
                *(ulong*)&desc->len = (uint)f.Length;
                tx.Bytes += f.Length;
            }
        }
        Counters.TxDropped += tx.Dropped;
        uint posted = tx.Next - first;
        if (posted == 0) return 0;
        _tx.CachedProducer = tx.Next;
        _tx.ProducerSubmit();
        Counters.TxPackets += posted;
        Counters.TxBytes += tx.Bytes;
        if (_alwaysWake || _tx.NeedsWakeup()) KickTx();
        return (int)posted;
    }

    /// <summary>What one TxBurst's zero-copy loop works with, on the stack.</summary>
    private struct TxState
    {
        public xdp_desc* Ring;
        public uint Mask;
        /// <summary>The tx ring's next producer index, and where the free slots end.</summary>
        public uint Next, End;
        public byte* Umem;
        public ulong UmemLength;
        public int Shift;
        public uint FrameSize;
        public byte* State;
        public ushort Id;
        public long Bytes;
        public long Dropped;
    }

    /// <summary>
    /// Posts frames from <paramref name="i"/> on: every frame for this port that is a frame of our UMEM (received
    /// by this port or any port sharing the UMEM) still with the application goes into the tx ring as it is, no
    /// copy, and is marked TxOwned so RxDone leaves it alone; with the ring full, frames are dropped and counted.
    /// Returns the index of the first frame that needs the copy path, or <paramref name="count"/>.
    /// </summary>
    private static int PostZeroCopy(ref TxState tx, Frame* frames, int i, int count)
    {
        xdp_desc* ring = tx.Ring;
        uint mask = tx.Mask, next = tx.Next, end = tx.End, frameSize = tx.FrameSize;
        byte* umem = tx.Umem;
        ulong umemLength = tx.UmemLength;
        int shift = tx.Shift;
        byte* state = tx.State;
        ushort id = tx.Id;
        long bytes = tx.Bytes;
        for (; i < count; i++)
        {
            Frame* f = frames + i;
            if (f->OutPort != id || f->Drop != DropReason.None) continue;
            if (next == end)
            {
                f->Drop = DropReason.TxRingFull;
                tx.Dropped++;
                continue;
            }
            ulong handle = f->Handle;
            int offset = f->Offset;
            int length = f->Length;
            // The range check (length ≥ 1 and offset + length ≤ frame size, in unsigned compares) matters: the kernel
            // skips a descriptor that leaves its chunk and never completes it, which would lose the frame.
            // handle < umemLength keeps the state index inside the array.
            if ((f->Flags & FrameFlags.Generated) != 0 || handle >= umemLength || f->Buffer != (nint)(umem + handle)
                || (uint)offset > frameSize || (uint)(length - 1) >= frameSize - (uint)offset
                || state[handle >> shift] != StateApp)
                break;
            state[handle >> shift] = StateTx;
            f->Flags |= FrameFlags.TxOwned;
            xdp_desc* desc = ring + (next++ & mask);
            desc->addr = handle + (ulong)offset;
            // len and options (0) in one 8-byte store.
            *(ulong*)&desc->len = (uint)length;
            bytes += length;
        }
        tx.Next = next;
        tx.Bytes = bytes;
        return i;
    }

    private const ulong NoAddress = ulong.MaxValue;

    /// <summary>TxBurst's slow path: copies a frame that is not a sendable frame of our UMEM into a free frame.
    /// Returns the UMEM address to post, or <see cref="NoAddress"/> when the frame was dropped (and counted).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong TxCopy(ref Frame f)
    {
        if (f.Length <= 0)
        {
            DropTx(ref f, DropReason.Truncated);
            return NoAddress;
        }
        if (f.Length > _frameSize - _headroom)
        {
            DropTx(ref f, DropReason.TxTooLarge);
            return NoAddress;
        }
        var u = _u;
        if (u.FreeCount == 0)
        {
            // Every frame is in flight; the tx side is as backed up as a full ring.
            DropTx(ref f, DropReason.TxRingFull);
            return NoAddress;
        }
        uint index = _free[--u.FreeCount];
        _state[index] = StateTx;
        ulong addr = ((ulong)index << _frameShift) + (ulong)_headroom;
        f.Data.CopyTo(new Span<byte>(_umem + addr, f.Length));
        Counters.TxCopied++;
        return addr;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void DropTx(ref Frame f, DropReason reason)
    {
        f.Drop = reason;
        Counters.TxDropped++;
    }
}
