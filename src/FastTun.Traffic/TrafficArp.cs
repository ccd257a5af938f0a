using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using FastTun.Linux.Ports;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;

namespace FastTun.Traffic;

/// <summary>ARP for the generator (resolve the next hop) and the sink (answer for its address). Rare paths.</summary>
public static class TrafficArp
{
    private const int ArpFrameLength = 60; // 14 + 28, padded to the Ethernet minimum

    /// <summary>Sends who-has <paramref name="target"/> up to <paramref name="tries"/> times, one second apart,
    /// and returns the MAC of the first reply, or null.</summary>
    public static byte[]? Resolve(PacketPort port, byte[] ownMac, uint ownIp, uint target, int tries = 3)
    {
        using var pool = new FramePool(4);
        var batch = new PacketBatch(64);
        for (int attempt = 0; attempt < tries; attempt++)
        {
            batch.Clear();
            ref Frame f = ref batch.Add();
            if (!pool.TryRent(ref f)) return null;
            f.Length = ArpFrameLength;
            Span<byte> data = f.Data;
            data.Clear();
            EthernetHeader.Write(data, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], ownMac, EthernetHeader.EtherTypeArp);
            ArpPacket.WriteRequest(data.Slice(EthernetHeader.Length), ownMac, ownIp, target);
            f.OutPort = port.Id;
            f.Flags = FrameFlags.Generated;
            port.TxBurst(batch);
            port.Flush();
            pool.Return(f);

            long deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency;
            while (Stopwatch.GetTimestamp() < deadline)
            {
                batch.Clear();
                if (port.RxBurst(batch) == 0)
                {
                    Thread.Sleep(1);
                    continue;
                }
                byte[]? mac = null;
                for (int i = 0; i < batch.Count && mac is null; i++) mac = ReplyFrom(batch[i].Data, target);
                port.RxDone(batch);
                if (mac is not null) return mac;
            }
        }
        return null;
    }

    private static byte[]? ReplyFrom(Span<byte> frame, uint target)
    {
        if (!EthernetHeader.TryParse(frame, out var eth) || eth.EtherType != EthernetHeader.EtherTypeArp) return null;
        if (!ArpPacket.TryParse(eth.Payload, out var arp) || arp.Operation != ArpPacket.OperationReply || arp.SenderIp != target) return null;
        return arp.SenderMac.ToArray();
    }

    /// <summary>If <paramref name="frame"/> is a who-has for <paramref name="ownIp"/>, writes the is-at reply into
    /// <paramref name="reply"/> (a rented pool frame) and returns true.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static bool TryAnswer(Span<byte> frame, byte[] ownMac, uint ownIp, ref Frame reply)
    {
        if (!EthernetHeader.TryParse(frame, out var eth) || eth.EtherType != EthernetHeader.EtherTypeArp) return false;
        if (!ArpPacket.TryParse(eth.Payload, out var arp) || arp.Operation != ArpPacket.OperationRequest || arp.TargetIp != ownIp) return false;
        reply.Length = ArpFrameLength;
        Span<byte> data = reply.Data;
        data.Clear();
        EthernetHeader.Write(data, arp.SenderMac, ownMac, EthernetHeader.EtherTypeArp);
        ArpPacket.WriteReply(data.Slice(EthernetHeader.Length), ownMac, ownIp, arp.SenderMac, arp.SenderIp);
        return true;
    }

    /// <summary>True for an Ethernet frame carrying ARP (the sink counts these apart from test traffic).</summary>
    public static bool IsArp(ReadOnlySpan<byte> frame) =>
        frame.Length >= EthernetHeader.Length
        && BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(EthernetHeader.TypeOffset)) == EthernetHeader.EtherTypeArp;
}
