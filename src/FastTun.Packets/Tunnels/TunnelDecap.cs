using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;

namespace FastTun.Packets.Tunnels;

/// <summary>
/// Takes the outer headers off a tunnel packet addressed to us, with Linux's receive rules (ip_tunnel_rcv,
/// gre_parse_header, RFC 6040 decapsulation):
/// outer header valid (version, lengths, checksum) and not a fragment → protocol 4 or 47 → GRE version 0,
/// reserved bits clear, type IPv4, checksum correct when present → exact (remote, local, key) lookup →
/// C flag as configured → sequence not old → inner IPv4 valid → ECN: outer CE marks an ECT inner CE and
/// drops a not-ECT inner.
/// </summary>
public static class TunnelDecap
{
    /// <summary>
    /// On entry <paramref name="frame"/>'s data starts at the outer IPv4 header; on success it is exactly the
    /// inner IPv4 packet, ending at the inner total length (link padding and any slack after the
    /// inner packet removed) and <paramref name="tunnel"/> the tunnel
    /// it arrived on. On failure the frame is unchanged and the reason names the first check that failed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason Decapsulate(TunnelTable table, ref Frame frame, out Tunnel? tunnel)
    {
        tunnel = null;
        Span<byte> data = frame.Data;
        if (!Ipv4Header.TryParse(data, out Ipv4Header outer, out DropReason reason)) return reason;
        int outerHeaderLength = outer.HeaderLength;
        if (Ipv4Header.HeaderSum(data, outerHeaderLength) != 0xFFFF) return DropReason.BadIpChecksum;
        if (outer.IsFragment) return DropReason.TunnelFragment;

        int outerTotal = outer.TotalLength;
        Span<byte> payload = data.Slice(outerHeaderLength, outerTotal - outerHeaderLength);
        uint source = outer.Source, destination = outer.Destination;
        byte protocol = outer.Protocol;
        int headerLength;
        Tunnel? t;
        if (protocol == Ipv4Header.ProtocolIpip)
        {
            t = table.Lookup(source, destination, protocol, null);
            if (t is null) return DropReason.NoTunnel;
            headerLength = outerHeaderLength;
        }
        else if (protocol == Ipv4Header.ProtocolGre)
        {
            if (!GreHeader.TryParse(payload, out GreHeader gre, out reason)) return reason;
            if (gre.ProtocolType != GreHeader.ProtocolIPv4) return DropReason.GreUnsupportedProtocol;
            bool hasChecksum = gre.HasChecksum;
            if (hasChecksum && !gre.IsChecksumValid()) return DropReason.BadChecksum;
            t = table.Lookup(source, destination, protocol, gre.HasKey ? gre.Key : null);
            if (t is null) return NoGreTunnel(table, source, destination);
            if (hasChecksum != t.InputChecksum)
                return hasChecksum ? DropReason.GreChecksumUnexpected : DropReason.GreChecksumMissing;
            if (t.InputSequence)
            {
                if (!gre.HasSequence) return DropReason.GreSequenceMissing;
                if (!t.AcceptSequence(gre.SequenceNumber)) return DropReason.GreSequenceOld;
            }
            headerLength = outerHeaderLength + gre.HeaderLength;
        }
        else
        {
            return DropReason.UnsupportedProtocol;
        }

        Span<byte> innerBytes = data.Slice(headerLength, outerTotal - headerLength);
        if (!Ipv4Header.TryParse(innerBytes, out Ipv4Header inner)) return DropReason.InnerMalformed;

        if ((outer.Tos & Ipv4Header.EcnMask) == Ipv4Header.EcnCe)
        {
            int innerEcn = inner.Tos & Ipv4Header.EcnMask;
            if (innerEcn == Ipv4Header.EcnNotEct) return DropReason.EcnCeOnNotEct;
            if (innerEcn != Ipv4Header.EcnCe) SetCe(innerBytes);
        }

        int innerTotal = inner.TotalLength;
        frame.TrimFront(headerLength);
        frame.Length = innerTotal;
        t._decapPackets++;
        t._decapBytes += frame.Length;
        tunnel = t;
        return DropReason.None;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DropReason NoGreTunnel(TunnelTable table, uint source, uint destination) =>
        table.HasEndpoints(source, destination, Ipv4Header.ProtocolGre) ? DropReason.GreKeyMismatch : DropReason.NoTunnel;

    /// <summary>Marks an ECT inner header CE and patches its checksum incrementally (RFC 1624 eqn. 3) for the
    /// changed first word (version/IHL, TOS), instead of summing the header again.</summary>
    private static void SetCe(Span<byte> header)
    {
        ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(header);
        ushort newWord = (ushort)(oldWord | Ipv4Header.EcnCe);
        header[Ipv4Header.TosOffset] = (byte)newWord;
        ushort oldChecksum = BinaryPrimitives.ReadUInt16BigEndian(header.Slice(Ipv4Header.ChecksumOffset));
        BinaryPrimitives.WriteUInt16BigEndian(header.Slice(Ipv4Header.ChecksumOffset), IncrementalChecksum(oldChecksum, oldWord, newWord));
    }

    /// <summary>RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). Private until the shared incremental helpers in
    /// Checksum/ land.</summary>
    internal static ushort IncrementalChecksum(ushort checksum, ushort oldWord, ushort newWord)
    {
        uint sum = (uint)(ushort)~checksum + (ushort)~oldWord + newWord;
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }
}
