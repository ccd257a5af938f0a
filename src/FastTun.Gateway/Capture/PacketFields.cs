using System.Buffers.Binary;
using FastTun.Packets.Checksum;
using FastTun.Packets.Headers;

namespace FastTun.Gateway.Capture;

/// <summary>How a field takes part in a comparison.</summary>
public enum FieldKind : byte
{
    /// <summary>Compared by value.</summary>
    Exact,
    /// <summary>An IPv4 Identification: the value may differ, but each side must change it between packets.</summary>
    IpId,
    /// <summary>A checksum: only its validity is compared (it follows from the other fields, the IP ID among them).</summary>
    Checksum,
}

/// <summary>One decoded field: <c>ipv4.ttl = 64</c>. <see cref="Flow"/> groups IP IDs of one (src, dst, proto).</summary>
public readonly record struct PacketField(string Name, string Value, FieldKind Kind, string? Flow = null);

/// <summary>
/// Decodes a captured frame into named fields, layer by layer, the way a reader compares two captures: Ethernet
/// (and 802.1Q), IPv4 (nested through IPIP and GRE as <c>ipv4(2)</c>, <c>ipv4(3)</c>), GRE with its optional
/// checksum/key/sequence, ICMP with the packet an error quotes, UDP, TCP, and the remaining payload. Malformed
/// layers end the decode with a <c>malformed</c> field instead of throwing.
/// </summary>
public static class PacketFields
{
    public static List<PacketField> Decode(CapturedPacket packet)
    {
        var fields = new List<PacketField>(48);
        var d = new Decoder(fields);
        byte[] data = packet.Data;
        switch (packet.LinkType)
        {
            case CaptureFile.LinkTypeEthernet: d.Ethernet(data); break;
            case CaptureFile.LinkTypeRaw or CaptureFile.LinkTypeIpv4: d.Ipv4(data, "ipv4"); break;
            default: fields.Add(new("link.type", packet.LinkType.ToString(), FieldKind.Exact)); d.Payload(data, "link"); break;
        }
        if (packet.OriginalLength != data.Length) fields.Add(new("frame.truncated-from", packet.OriginalLength.ToString(), FieldKind.Exact));
        return fields;
    }

    /// <summary>A one-line summary for packets that exist on one side only.</summary>
    public static string Summary(CapturedPacket packet)
    {
        var f = Decode(packet);
        string Get(string name) => f.Find(x => x.Name == name).Value ?? "?";
        bool has = f.Exists(x => x.Name == "ipv4.src");
        return has ? $"{Get("ipv4.src")} > {Get("ipv4.dst")} proto {Get("ipv4.protocol")}, {packet.Data.Length} bytes"
                   : $"{packet.Data.Length} bytes, not IPv4";
    }

    private readonly struct Decoder(List<PacketField> fields)
    {
        private void Add(string name, string value, FieldKind kind = FieldKind.Exact, string? flow = null) =>
            fields.Add(new(name, value, kind, flow));

        public void Ethernet(ReadOnlySpan<byte> b)
        {
            if (b.Length < 14) { Add("eth.malformed", $"{b.Length} bytes"); return; }
            Add("eth.dst", Mac(b.Slice(0, 6)));
            Add("eth.src", Mac(b.Slice(6, 6)));
            ushort type = BinaryPrimitives.ReadUInt16BigEndian(b.Slice(12));
            int at = 14;
            if (type == 0x8100 && b.Length >= 18)
            {
                Add("vlan.id", (BinaryPrimitives.ReadUInt16BigEndian(b.Slice(14)) & 0x0FFF).ToString());
                type = BinaryPrimitives.ReadUInt16BigEndian(b.Slice(16));
                at = 18;
            }
            Add("eth.type", $"0x{type:x4}");
            if (type == 0x0800) Ipv4(b.Slice(at), "ipv4");
            else if (type == 0x0806) Arp(b.Slice(at));
            else Payload(b.Slice(at), "eth");
        }

        private void Arp(ReadOnlySpan<byte> b)
        {
            if (b.Length < 28) { Add("arp.malformed", $"{b.Length} bytes"); return; }
            Add("arp.opcode", BinaryPrimitives.ReadUInt16BigEndian(b.Slice(6)).ToString());
            Add("arp.sender-mac", Mac(b.Slice(8, 6)));
            Add("arp.sender-ip", Ip(b.Slice(14)));
            Add("arp.target-mac", Mac(b.Slice(18, 6)));
            Add("arp.target-ip", Ip(b.Slice(24)));
        }

        public void Ipv4(ReadOnlySpan<byte> b, string layer)
        {
            if (b.Length < Ipv4Header.MinLength || b[0] >> 4 != 4) { Add(layer + ".malformed", $"{b.Length} bytes, first byte 0x{(b.Length > 0 ? b[0] : 0):x2}"); return; }
            int ihl = (b[0] & 0x0F) << 2;
            int total = BinaryPrimitives.ReadUInt16BigEndian(b.Slice(2));
            if (ihl < Ipv4Header.MinLength || ihl > b.Length) { Add(layer + ".malformed", $"header length {ihl}"); return; }
            string src = Ip(b.Slice(Ipv4Header.SourceOffset)), dst = Ip(b.Slice(Ipv4Header.DestinationOffset));
            byte proto = b[Ipv4Header.ProtocolOffset];
            ushort frag = BinaryPrimitives.ReadUInt16BigEndian(b.Slice(Ipv4Header.FlagsFragmentOffset));
            Add(layer + ".header-length", ihl.ToString());
            Add(layer + ".tos", $"0x{b[1]:x2}");
            Add(layer + ".total-length", total.ToString());
            Add(layer + ".id", $"0x{BinaryPrimitives.ReadUInt16BigEndian(b.Slice(4)):x4}", FieldKind.IpId, $"{layer} {src} > {dst} proto {proto}");
            Add(layer + ".df", ((frag & Ipv4Header.FlagDontFragment) != 0).ToString().ToLowerInvariant());
            Add(layer + ".mf", ((frag & Ipv4Header.FlagMoreFragments) != 0).ToString().ToLowerInvariant());
            Add(layer + ".fragment-offset", ((frag & Ipv4Header.FragmentOffsetMask) * 8).ToString());
            Add(layer + ".ttl", b[Ipv4Header.TtlOffset].ToString());
            Add(layer + ".protocol", proto.ToString());
            Add(layer + ".checksum", InternetChecksum.Verify(b.Slice(0, ihl)) ? "valid" : "invalid", FieldKind.Checksum);
            Add(layer + ".src", src);
            Add(layer + ".dst", dst);
            if (ihl > Ipv4Header.MinLength) Add(layer + ".options", Convert.ToHexString(b.Slice(Ipv4Header.MinLength, ihl - Ipv4Header.MinLength)));
            if (total < ihl || total > b.Length) { Add(layer + ".length-mismatch", $"header says {total}, {b.Length} captured"); total = Math.Max(ihl, Math.Min(total, b.Length)); }
            else if (b.Length > total) Add(layer + ".trailer", (b.Length - total).ToString());
            ReadOnlySpan<byte> payload = b.Slice(ihl, total - ihl);
            if ((frag & (Ipv4Header.FragmentOffsetMask | Ipv4Header.FlagMoreFragments)) != 0) { Payload(payload, layer); return; }
            string next = NextIpv4Layer(layer);
            switch (proto)
            {
                case Ipv4Header.ProtocolIpip: Ipv4(payload, next); break;
                case Ipv4Header.ProtocolGre: Gre(payload, layer, next); break;
                case Ipv4Header.ProtocolIcmp: Icmp(payload, layer); break;
                case Ipv4Header.ProtocolUdp: Udp(payload, layer); break;
                case Ipv4Header.ProtocolTcp: Tcp(payload, layer); break;
                default: Payload(payload, layer); break;
            }
        }

        private static string NextIpv4Layer(string layer)
        {
            int open = layer.IndexOf('(');
            if (open < 0) return layer + "(2)";
            int depth = int.Parse(layer.AsSpan(open + 1, layer.Length - open - 2));
            return $"{layer.Substring(0, open)}({depth + 1})";
        }

        private static string Scope(string ipLayer, string name) =>
            ipLayer == "ipv4" ? name : ipLayer.Replace("ipv4", name);

        private void Gre(ReadOnlySpan<byte> b, string outerLayer, string innerLayer)
        {
            string g = Scope(outerLayer, "gre");
            if (b.Length < GreHeader.BaseLength) { Add(g + ".malformed", $"{b.Length} bytes"); return; }
            ushort flags = BinaryPrimitives.ReadUInt16BigEndian(b);
            int length = GreHeader.LengthOf(flags);
            Add(g + ".flags", $"C={(flags >> 15) & 1} K={(flags >> 13) & 1} S={(flags >> 12) & 1}");
            Add(g + ".reserved0", $"0x{flags & GreHeader.Reserved0Mask:x4}");
            Add(g + ".version", (flags & GreHeader.VersionMask).ToString());
            ushort protocol = BinaryPrimitives.ReadUInt16BigEndian(b.Slice(2));
            Add(g + ".protocol", $"0x{protocol:x4}");
            if (length > b.Length) { Add(g + ".malformed", $"options need {length} bytes, {b.Length} captured"); return; }
            int at = GreHeader.OptionsOffset;
            if ((flags & GreHeader.FlagChecksum) != 0)
            {
                Add(g + ".checksum", InternetChecksum.Verify(b) ? "valid" : "invalid", FieldKind.Checksum);
                at += 4;
            }
            if ((flags & GreHeader.FlagKey) != 0) { Add(g + ".key", BinaryPrimitives.ReadUInt32BigEndian(b.Slice(at)).ToString()); at += 4; }
            if ((flags & GreHeader.FlagSequence) != 0) { Add(g + ".sequence", BinaryPrimitives.ReadUInt32BigEndian(b.Slice(at)).ToString()); at += 4; }
            if (protocol == GreHeader.ProtocolIPv4) Ipv4(b.Slice(length), innerLayer);
            else Payload(b.Slice(length), g);
        }

        private void Icmp(ReadOnlySpan<byte> b, string ipLayer)
        {
            string l = Scope(ipLayer, "icmp");
            if (b.Length < 8) { Add(l + ".malformed", $"{b.Length} bytes"); return; }
            byte type = b[0];
            Add(l + ".type", type.ToString());
            Add(l + ".code", b[1].ToString());
            Add(l + ".checksum", InternetChecksum.Verify(b) ? "valid" : "invalid", FieldKind.Checksum);
            Add(l + ".rest-of-header", $"0x{BinaryPrimitives.ReadUInt32BigEndian(b.Slice(4)):x8}");
            // Errors quote the offending packet: decode it, so a difference inside the quote is named.
            if (type is 3 or 4 or 5 or 11 or 12) Ipv4(b.Slice(8), Scope(ipLayer, "quoted-ipv4"));
            else Payload(b.Slice(8), l);
        }

        private void Udp(ReadOnlySpan<byte> b, string ipLayer)
        {
            string l = Scope(ipLayer, "udp");
            if (b.Length < 8) { Add(l + ".malformed", $"{b.Length} bytes"); return; }
            Add(l + ".src-port", BinaryPrimitives.ReadUInt16BigEndian(b).ToString());
            Add(l + ".dst-port", BinaryPrimitives.ReadUInt16BigEndian(b.Slice(2)).ToString());
            Add(l + ".length", BinaryPrimitives.ReadUInt16BigEndian(b.Slice(4)).ToString());
            Add(l + ".checksum", $"0x{BinaryPrimitives.ReadUInt16BigEndian(b.Slice(6)):x4}"); // pseudo header + data: no IP ID in it
            Payload(b.Slice(8), l);
        }

        private void Tcp(ReadOnlySpan<byte> b, string ipLayer)
        {
            string l = Scope(ipLayer, "tcp");
            if (b.Length < 20) { Add(l + ".malformed", $"{b.Length} bytes"); return; }
            int offset = (b[12] >> 4) << 2;
            Add(l + ".src-port", BinaryPrimitives.ReadUInt16BigEndian(b).ToString());
            Add(l + ".dst-port", BinaryPrimitives.ReadUInt16BigEndian(b.Slice(2)).ToString());
            Add(l + ".seq", BinaryPrimitives.ReadUInt32BigEndian(b.Slice(4)).ToString());
            Add(l + ".ack", BinaryPrimitives.ReadUInt32BigEndian(b.Slice(8)).ToString());
            Add(l + ".flags", $"0x{b[13]:x2}");
            Add(l + ".window", BinaryPrimitives.ReadUInt16BigEndian(b.Slice(14)).ToString());
            Add(l + ".checksum", $"0x{BinaryPrimitives.ReadUInt16BigEndian(b.Slice(16)):x4}");
            if (offset < 20 || offset > b.Length) { Add(l + ".malformed", $"data offset {offset}"); return; }
            if (offset > 20) Add(l + ".options", Convert.ToHexString(b.Slice(20, offset - 20)));
            Payload(b.Slice(offset), l);
        }

        public void Payload(ReadOnlySpan<byte> b, string layer)
        {
            Add(layer + ".payload-length", b.Length.ToString());
            // The bytes themselves: compared whole, shown as the first difference by the comparison.
            Add(layer + ".payload", Convert.ToHexString(b));
        }

        private static string Mac(ReadOnlySpan<byte> m) =>
            $"{m[0]:x2}:{m[1]:x2}:{m[2]:x2}:{m[3]:x2}:{m[4]:x2}:{m[5]:x2}";

        private static string Ip(ReadOnlySpan<byte> b) => $"{b[0]}.{b[1]}.{b[2]}.{b[3]}";
    }
}
