using System.Buffers.Binary;
using FastTun.Packets.Headers;
using FastTun.Packets.Datapath;

namespace FastTun.Traffic;

public enum TrafficKind : byte
{
    /// <summary>A generator packet with valid IPv4 and UDP checksums.</summary>
    Traffic,
    /// <summary>A generator packet (magic found) whose IPv4 header or UDP checksum is wrong.</summary>
    BadChecksum,
    Arp,
    Other,
}

/// <summary>
/// Finds the generator's payload in a received frame, through at most two levels of IPIP, GRE (any of
/// checksum/key/sequence) or VXLAN, so the same sink reads the gateway's plain output, its tunnel output on
/// the underlay and the kernel VXLAN baseline's. Verifies every IPv4 header checksum on the way and the
/// inner UDP checksum. No allocation; bad input is <see cref="TrafficKind.Other"/>, never an exception.
/// </summary>
public static class TrafficClassifier
{
    private const int MaxDepth = 3;

    public static TrafficKind Classify(Span<byte> frame, out ushort flow, out ulong sequence, out long timestamp)
    {
        flow = 0;
        sequence = 0;
        timestamp = 0;
        if (!EthernetHeader.TryParse(frame, out var eth)) return TrafficKind.Other;
        ushort type = eth.EtherType;
        if (type == EthernetHeader.EtherTypeArp) return TrafficKind.Arp;
        if (type != EthernetHeader.EtherTypeIPv4) return TrafficKind.Other;
        Span<byte> packet = eth.Payload;
        bool headersValid = true;
        for (int depth = 0; depth < MaxDepth; depth++)
        {
            if (!Ipv4Header.TryParse(packet, out var ip) || ip.IsFragment) return TrafficKind.Other;
            headersValid &= ip.IsChecksumValid();
            Span<byte> payload = ip.Payload;
            switch (ip.Protocol)
            {
                case Ipv4Header.ProtocolIpip:
                    packet = payload;
                    continue;
                case Ipv4Header.ProtocolGre:
                    if (!GreHeader.TryParse(payload, out var gre) || gre.ProtocolType != GreHeader.ProtocolIPv4) return TrafficKind.Other;
                    headersValid &= gre.IsChecksumValid();
                    packet = gre.Payload;
                    continue;
                case Ipv4Header.ProtocolUdp:
                    if (!UdpHeader.TryParse(payload, out var udp)) return TrafficKind.Other;
                    Span<byte> data = udp.Payload;
                    if (TrafficPayload.TryParse(data, out var traffic))
                    {
                        flow = traffic.Flow;
                        sequence = traffic.Sequence;
                        timestamp = traffic.Timestamp;
                        bool valid = headersValid && udp.Checksum != 0 && udp.IsChecksumValid(ip.Source, ip.Destination);
                        return valid ? TrafficKind.Traffic : TrafficKind.BadChecksum;
                    }
                    if (udp.DestinationPort != TrafficSpec.VxlanPort || data.Length < 8 + EthernetHeader.Length) return TrafficKind.Other;
                    // VXLAN: 8-byte header with the I flag, then the inner Ethernet frame.
                    if ((data[0] & 0x08) == 0) return TrafficKind.Other;
                    Span<byte> inner = data.Slice(8);
                    if (BinaryPrimitives.ReadUInt16BigEndian(inner.Slice(EthernetHeader.TypeOffset)) != EthernetHeader.EtherTypeIPv4)
                        return TrafficKind.Other;
                    packet = inner.Slice(EthernetHeader.Length);
                    continue;
                default:
                    return TrafficKind.Other;
            }
        }
        return TrafficKind.Other;
    }
}
