using System.Runtime.CompilerServices;
using FastTun.Linux.Interop;
using FastTun.Packets.Datapath;

namespace FastTun.Linux.AfPacket;

public sealed unsafe partial class AfPacketPort
{
    /// <summary>Bursts between PACKET_STATISTICS reads (one getsockopt each), so ring-full drops show up under
    /// overload too, when the worker is never idle.</summary>
    private const int StatisticsInterval = 1024;

    public override int RxBurst(PacketBatch batch)
    {
        int start = batch.Count;
        while (!batch.IsFull)
        {
            if (_gsoActive)
            {
                EmitSegments(batch);
                continue;
            }
            if (_rxFramesLeft == 0 && !OpenNextBlock()) break;
            TakeFrame(batch);
        }
        if (_shed is not null) UpdateShed();
        int added = batch.Count - start;
        if (added > 0)
        {
            Counters.RxBatches++;
            if (--_statsCountdown <= 0)
            {
                _statsCountdown = StatisticsInterval;
                RefreshStatistics();
            }
        }
        return added;
    }

    /// <summary>
    /// The shed's trigger (lat6): shed exactly while the ring is full, i.e. while the kernel would drop the frame
    /// anyway (tpacket_rcv finds no free block), only earlier and at no cost. The ring is full when the block the
    /// kernel fills last before reaching the cursor again, the one just behind the cursor, is handed to user space
    /// and not one this worker still holds frames of (a held block was never given back, so the kernel is not
    /// behind it); the shed stops on the first burst after the worker gives a block back.
    ///
    /// Why not a hysteresis below full (e2e2: start at ¾, stop at ¼): it dropped every frame while the worker drained
    /// half the ring (16 of 32 blocks, ~60 ms at the worker's rate) although the ring had room: a burst that the ring
    /// would have absorbed (a TCP window, the backlog of a reload) lost tens of milliseconds of traffic, which is how
    /// the gateway's netns tests lost pings and TCP segments with the shed on (e2e5). Under a sustained flood the ring
    /// is full nearly all the time, so the shed still drops nearly every frame beyond the worker's rate before the
    /// kernel's receive path; what reaches tpacket_rcv on a full ring is only what arrives between a block's release
    /// and the next burst's check.
    /// </summary>
    public static bool RingFull(uint blockBehindStatus, int framesHeldInBlockBehind) =>
        (blockBehindStatus & Libc.TP_STATUS_USER) != 0 && framesHeldInBlockBehind == 0;

    /// <summary>Once per burst: a block header or two read, a store to the shed flag only on a change. Blocks just
    /// behind the cursor that this worker still holds (the frames of the batch in flight, given back at RxDone) are
    /// skipped: the kernel fills blocks in order, so it is stuck at a held block exactly when the newest block behind
    /// it is handed over again, and looking only at the held one would clear the flag at every block boundary.</summary>
    private void UpdateShed()
    {
        bool shedding = _shed!.Shedding;
        int behind = _rxBlock;
        bool next = false;
        for (int step = 0; step < ShedLookBack; step++)
        {
            behind = behind == 0 ? _rxBlockCount - 1 : behind - 1;
            if (_outstanding[behind] != 0) continue;
            var block = (tpacket_block_desc*)(_rxBase + (long)behind * _rxBlockSize);
            next = RingFull(Volatile.Read(ref block->hdr.block_status), 0);
            break;
        }
        if (next != shedding) _shed.Shedding = next;
    }

    /// <summary>Held blocks <see cref="UpdateShed"/> looks past at most (a batch spans at most a few blocks); all held:
    /// not full (no shedding on a guess).</summary>
    private const int ShedLookBack = 4;

    /// <summary>Moves to the next block if the kernel has handed it over. A block we still hold frames of (the
    /// ring wrapped while the pipeline kept a whole ring's worth) is not reopened: its status is stale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool OpenNextBlock()
    {
        var block = (tpacket_block_desc*)(_rxBase + (long)_rxBlock * _rxBlockSize);
        if (_outstanding[_rxBlock] != 0) return false;
        // Acquire: the kernel writes the frames and then block_status; reading the frames must not move above this.
        if ((Volatile.Read(ref block->hdr.block_status) & Libc.TP_STATUS_USER) == 0) return false;
        int frames = (int)block->hdr.num_pkts;
        if (frames == 0)
        {
            ReleaseBlock(_rxBlock);
            _rxBlock = NextBlock(_rxBlock);
            return false;
        }
        _outstanding[_rxBlock] = frames;
        _rxFramesLeft = frames;
        _rxFrame = (byte*)block + block->hdr.offset_to_first_pkt;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int NextBlock(int b) => b + 1 == _rxBlockCount ? 0 : b + 1;

    /// <summary>Takes the frame at the cursor: in place, completed in place, or handed to the segmenter.</summary>
    private void TakeFrame(PacketBatch batch)
    {
        byte* slot = _rxFrame;
        var hdr = (tpacket3_hdr*)slot;
        int block = _rxBlock;
        int mac = hdr->tp_mac;
        int snap = (int)hdr->tp_snaplen;
        bool truncated = snap < hdr->tp_len;
        if (--_rxFramesLeft == 0)
        {
            _rxBlock = NextBlock(_rxBlock);
            _rxFrame = null;
        }
        else
        {
            _rxFrame = slot + hdr->tp_next_offset;
        }

        if (truncated)
        {
            DropReceived(block);
            return;
        }
        if (_vnetLength != 0)
        {
            var vnet = (virtio_net_hdr*)(slot + mac - _vnetLength);
            byte gso = (byte)(vnet->gso_type & ~Libc.VIRTIO_NET_HDR_GSO_ECN);
            if (gso != Libc.VIRTIO_NET_HDR_GSO_NONE)
            {
                StartSegmentation(slot + mac, snap, block, gso, vnet->gso_size);
                return;
            }
            if ((vnet->flags & Libc.VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0
                && !CompletePartial(new Span<byte>(slot + mac, snap), vnet->csum_start, vnet->csum_offset))
            {
                DropReceived(block);
                return;
            }
        }

        ref Frame f = ref batch.Add();
        f.Buffer = (nint)slot;
        f.Handle = RingTag | (uint)block;
        f.Offset = mac;
        f.Length = snap;
        // Tailroom stops at the 16-byte alignment the kernel leaves before the next frame.
        f.Capacity = (mac + snap + Libc.TPACKET_ALIGNMENT - 1) & ~(Libc.TPACKET_ALIGNMENT - 1);
        f.InPort = Id;
        Counters.RxPackets++;
        Counters.RxBytes += snap;
    }

    private bool CompletePartial(Span<byte> frame, int csumStart, int csumOffset)
    {
        ChecksumsCompleted++;
        return VnetOffload.CompleteChecksum(frame, csumStart, csumOffset);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void StartSegmentation(byte* data, int length, int block, byte gsoType, int gsoSize)
    {
        if (!VnetOffload.TryPlan(new ReadOnlySpan<byte>(data, length), gsoType, gsoSize, out _gsoPlan)
            || _gsoPlan.MaxSegmentLength > _pool.FrameSize - _pool.Headroom)
        {
            DropReceived(block);
            return;
        }
        GsoFrames++;
        _gsoActive = true;
        _gsoData = data;
        _gsoLength = length;
        _gsoBlock = block;
        _gsoNext = 0;
    }

    /// <summary>Writes as many segments of the current super-frame as the batch has room for. The super-frame
    /// stays in its block (which stays ours) until the last segment is written.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void EmitSegments(PacketBatch batch)
    {
        var source = new ReadOnlySpan<byte>(_gsoData, _gsoLength);
        int count = _gsoPlan.SegmentCount;
        while (_gsoNext < count && !batch.IsFull)
        {
            ref Frame f = ref batch.Add();
            if (!_pool.TryRent(ref f))
            {
                // Pool exhausted (the pipeline is holding every segment buffer): the rest of this super-frame is lost.
                batch.Count--;
                int lost = count - _gsoNext;
                OffloadDropped += lost;
                Counters.RxDropped += lost;
                _gsoNext = count;
                break;
            }
            int length = VnetOffload.WriteSegment(source, _gsoPlan, _gsoNext, new Span<byte>((byte*)f.Buffer + f.Offset, f.Capacity - f.Offset));
            f.Handle |= PoolTag;
            f.Length = length;
            f.InPort = Id;
            Counters.RxPackets++;
            Counters.RxBytes += length;
            _gsoNext++;
        }
        if (_gsoNext >= count)
        {
            _gsoActive = false;
            CompleteBlockFrame(_gsoBlock);
        }
    }

    private void DropReceived(int block)
    {
        OffloadDropped++;
        Counters.RxDropped++;
        CompleteBlockFrame(block);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CompleteBlockFrame(int block)
    {
        if (--_outstanding[block] == 0) ReleaseBlock(block);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ReleaseBlock(int block)
    {
        var desc = (tpacket_block_desc*)(_rxBase + (long)block * _rxBlockSize);
        // Release: every read of (and in-place write to) this block's frames happens before the kernel may refill it.
        Volatile.Write(ref desc->hdr.block_status, Libc.TP_STATUS_KERNEL);
    }

    public override void RxDone(PacketBatch batch)
    {
        for (int i = 0; i < batch.Count; i++)
        {
            ref Frame f = ref batch[i];
            if (f.InPort != Id || (f.Flags & FrameFlags.TxOwned) != 0) continue;
            ulong tag = f.Handle & TagMask;
            if (tag == RingTag)
            {
                int block = (int)(f.Handle & ~TagMask);
                if ((uint)block < (uint)_rxBlockCount && (byte*)f.Buffer >= _rxBase && (byte*)f.Buffer < _txBase)
                {
                    CompleteBlockFrame(block);
                    f.Handle = 0; // returned: a second RxDone on the same batch must not count it twice
                }
            }
            else if (tag == PoolTag)
            {
                Frame copy = f;
                copy.Handle &= ~TagMask;
                _pool.Return(copy);
                f.Handle = 0;
            }
        }
    }
}
