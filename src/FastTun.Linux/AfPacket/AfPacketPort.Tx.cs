using System.Runtime.CompilerServices;
using FastTun.Linux.Interop;
using FastTun.Packets.Datapath;

namespace FastTun.Linux.AfPacket;

public sealed unsafe partial class AfPacketPort
{
    public override int TxBurst(PacketBatch batch) =>
        _options.TxMode == AfPacketTxMode.Ring ? TxBurstRing(batch) : TxBurstSendMmsg(batch);

    private int TxBurstRing(PacketBatch batch)
    {
        int queued = 0;
        for (int i = 0; i < batch.Count; i++)
        {
            ref Frame f = ref batch[i];
            if (f.OutPort != Id || f.Drop != DropReason.None) continue;
            if (f.Length > _txMaxFrame || f.Length < 14)
            {
                RejectTx(ref f, f.Length < 14 ? DropReason.Truncated : DropReason.TxTooLarge);
                continue;
            }
            byte* slot = _txBase + (long)_txHead * _txFrameSize;
            var hdr = (tpacket3_hdr*)slot;
            // Acquire: the kernel is done with the slot's bytes before it reports AVAILABLE (or WRONG_FORMAT, a
            // slot it skipped under PACKET_LOSS and will not touch again).
            uint status = Volatile.Read(ref hdr->tp_status);
            if (status != Libc.TP_STATUS_AVAILABLE)
            {
                if (status != Libc.TP_STATUS_WRONG_FORMAT)
                {
                    RejectTx(ref f, DropReason.TxRingFull);
                    continue;
                }
                Counters.TxDropped++; // the kernel refused the frame that was in this slot
            }
            byte* data = slot + TxDataOffset;
            if (_vnetLength != 0)
            {
                // No offload requested: a zero header (flags 0, GSO_NONE) means "frame is complete as is".
                Unsafe.InitBlockUnaligned(data, 0, (uint)_vnetLength);
            }
            Unsafe.CopyBlockUnaligned(data + _vnetLength, (byte*)f.Buffer + f.Offset, (uint)f.Length);
            hdr->tp_len = (uint)(f.Length + _vnetLength);
            hdr->tp_next_offset = 0; // V3 tx rejects variable-size slots
            // Release: the frame bytes and tp_len are visible before the kernel can see SEND_REQUEST.
            Volatile.Write(ref hdr->tp_status, Libc.TP_STATUS_SEND_REQUEST);
            _txHead = _txHead + 1 == _txFrameCount ? 0 : _txHead + 1;
            Counters.TxPackets++;
            Counters.TxBytes += f.Length;
            queued++;
        }
        if (queued > 0) Kick();
        return queued;
    }

    /// <summary>Tells the kernel to transmit every SEND_REQUEST slot: one syscall per burst. With qdisc bypass the
    /// frames go to the driver inside this call; MSG_DONTWAIT keeps it from waiting for their completion.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Kick()
    {
        Counters.Syscalls++;
        // EAGAIN/ENOBUFS leave the slots queued; Flush retries so they do not wait for the next burst.
        _txKickPending = Libc.sendto(_fd, null, 0, Libc.MSG_DONTWAIT, null, 0) < 0;
    }

    private int TxBurstSendMmsg(PacketBatch batch)
    {
        int n = 0;
        for (int i = 0; i < batch.Count; i++)
        {
            ref Frame f = ref batch[i];
            if (f.OutPort != Id || f.Drop != DropReason.None) continue;
            if (f.Length > _txMaxFrame || f.Length < 14)
            {
                RejectTx(ref f, f.Length < 14 ? DropReason.Truncated : DropReason.TxTooLarge);
                continue;
            }
            iovec* iov = &_iovs[2 * n + 1];
            iov->iov_base = (byte*)f.Buffer + f.Offset;
            iov->iov_len = (nuint)f.Length;
            _msgs[n].msg_hdr.msg_iov = _vnetLength > 0 ? iov - 1 : iov;
            n++;
        }
        if (n == 0) return 0;
        Counters.Syscalls++;
        int sent = Libc.sendmmsg(_fd, _msgs, (uint)n, Libc.MSG_DONTWAIT);
        if (sent < 0) sent = 0;
        // Frames after the first failure were not sent: mark them, in batch order.
        int index = 0;
        for (int i = 0; i < batch.Count; i++)
        {
            ref Frame f = ref batch[i];
            if (f.OutPort != Id || f.Drop != DropReason.None) continue;
            if (index < sent)
            {
                Counters.TxPackets++;
                Counters.TxBytes += f.Length;
            }
            else
            {
                RejectTx(ref f, DropReason.TxRingFull);
            }
            index++;
        }
        return sent;
    }

    private void RejectTx(ref Frame f, DropReason reason)
    {
        f.Drop = reason;
        Counters.TxDropped++;
    }

    public override void Flush()
    {
        if (_txKickPending) Kick();
        RefreshStatistics();
    }

    /// <summary>Slots the kernel has not finished sending (SEND_REQUEST or SENDING); for tests and diagnostics.</summary>
    public int TxInFlight()
    {
        int busy = 0;
        for (int i = 0; i < _txFrameCount; i++)
        {
            uint status = Volatile.Read(ref ((tpacket3_hdr*)(_txBase + (long)i * _txFrameSize))->tp_status); // acquire: pairs with the kernel's status store
            if (status == Libc.TP_STATUS_SEND_REQUEST || status == Libc.TP_STATUS_SENDING) busy++;
        }
        return busy;
    }
}
