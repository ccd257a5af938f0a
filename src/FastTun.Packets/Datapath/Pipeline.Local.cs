using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Datapath;

public sealed partial class Pipeline
{
    /// <summary>A packet for one of our own addresses; data starts at its (valid) IPv4 header.
    /// <paramref name="rxIndex"/>: see <see cref="Route"/>.</summary>
    private unsafe void DeliverLocal(ref Frame f, int rxIndex)
    {
        // A valid IPv4 header (every caller checked it): fixed-size loads.
        byte* ip = (byte*)f.Buffer + f.Offset;
        byte protocol = ip[Ipv4Header.ProtocolOffset];
        bool fragment = ((ip[Ipv4Header.FlagsFragmentOffset] << 8 | ip[Ipv4Header.FlagsFragmentOffset + 1])
                         & (Ipv4Header.FlagMoreFragments | Ipv4Header.FragmentOffsetMask)) != 0;
        if (fragment) { Reassemble(ref f); return; }
        if (protocol is Ipv4Header.ProtocolIpip or Ipv4Header.ProtocolGre)
        {
            Decapsulate(ref f, rxIndex);
            return;
        }
        DeliverOther(ref f, protocol);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void DeliverOther(ref Frame f, byte protocol)
    {
        switch (protocol)
        {
            case Ipv4Header.ProtocolIcmp:
                ReceiveIcmp(ref f);
                return;
            case Ipv4Header.ProtocolUdp:
                // Nothing listens: port unreachable, which is also what ends a UDP traceroute to the gateway.
                SendIcmpError(f.Data, IcmpDestUnreachable, CodePortUnreachable, 0);
                f.Drop = DropReason.UnsupportedProtocol;
                return;
            case Ipv4Header.ProtocolTcp:
                f.Drop = DropReason.UnsupportedProtocol;
                return;
            default:
                SendIcmpError(f.Data, IcmpDestUnreachable, CodeProtocolUnreachable, 0);
                f.Drop = DropReason.UnsupportedProtocol;
                return;
        }
    }

    /// <summary>Takes the outer headers off; the outer header was parsed and checked once, in pass 1 (or by
    /// reassembly), and the inner one is parsed here, once, for pass 4's lookup.</summary>
    private void Decapsulate(ref Frame f, int rxIndex)
    {
        var tunnel = TunnelDecap.DecapsulateParsed(_s.Decap, ref f, Worker, checkInner: false, out var reason);
        if (KeepaliveHandled(ref f, tunnel, reason)) return; // keepalive hook: reflect a peer's, consume our own (Pipeline.Keepalive.cs)
        if (reason == DropReason.None)
        {
            if (_tap is not null) CaptureDecap(f.Data, tunnel);
            if (!ParseInner(ref f)) return;
            if (rxIndex >= 0) QueueInner(ref f, rxIndex, tunnel!); // routed with the batch's other inner packets
            else if (SourceAllowed(ref f, tunnel)) Route(ref f, _routes.Lookup(ReadDestination(f.Data)), -1);
            return;
        }
        if (reason is DropReason.NoTunnel or DropReason.GreKeyMismatch && _s.UnknownTunnelUnreachable)
        {
            // Like the kernel (ipgre_rcv/ipip_rcv → PACKET_REJECT → icmp_send): a tunnel packet that matches no
            // tunnel, a GRE packet from a known remote with a wrong or missing key included, gets port
            // unreachable to its outer source, rate limited, quoting the packet as received.
            SendIcmpError(f.Data, IcmpDestUnreachable, CodePortUnreachable, 0);
        }
        f.Drop = reason;
    }

    /// <summary>The inner header's checks (as for any received packet); a header that is not IPv4 at all is
    /// counted as the tunnel's malformed inner packet.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe bool ParseInner(ref Frame f)
    {
        // The common inner header (version 4, 20 bytes, lengths in range, checksum valid) with fixed-size loads;
        // anything else is decided (and its drop named) by the general checks below.
        int length = f.Length;
        if (length >= Ipv4Header.MinLength)
        {
            byte* ip = (byte*)f.Buffer + f.Offset;
            if (ip[0] == 0x45 && CommonHeaderValid(ip, length, out int total))
            {
                f.Length = total;
                return true;
            }
        }
        return ParseInnerGeneral(ref f);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool ParseInnerGeneral(ref Frame f)
    {
        if (!Ipv4Header.TryParse(f.Data, out var ip)) { f.Drop = DropReason.InnerMalformed; return false; }
        if (!ip.IsChecksumValid()) { f.Drop = DropReason.BadIpChecksum; return false; }
        f.Length = ip.TotalLength;
        return true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CaptureDecap(ReadOnlySpan<byte> inner, Tunnel? tunnel)
    {
        for (int t = 0; t < _s.Tunnels.Length; t++)
            if (ReferenceEquals(_s.Tunnels[t].Tunnel, tunnel)) { _tap!.Decapsulated(inner, t); return; }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Reassemble(ref Frame f)
    {
        Frame whole = default;
        var status = _reassembler.Add(f.Data, _now, ref whole, out var reason);
        if (status == ReassemblyStatus.Dropped) { f.Drop = reason; return; }
        // The fragment's bytes were copied: the rx frame is consumed either way.
        if (status == ReassemblyStatus.Pending) return;
        if (GeneratedFull)
        {
            _reassembler.Return(whole);
            f.Drop = DropReason.PoolExhausted;
            return;
        }
        whole.Flags = FrameFlags.Generated | FrameFlags.Reassembled;
        whole.InPort = f.InPort;
        whole.OutPort = PacketBatch.NoPort;
        ref Frame g = ref AddGenerated();
        g = whole;
        if (ParseIpv4(ref g)) DeliverLocal(ref g, -1);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReceiveIcmp(ref Frame f)
    {
        Span<byte> packet = f.Data;
        Ipv4Header.TryParse(packet, out var ip);
        if (!IcmpHeader.TryParse(ip.Payload, out var icmp) || !icmp.IsChecksumValid())
        {
            f.Drop = DropReason.BadChecksum;
            return;
        }
        Counters.LocalDelivered++;
        if (icmp.Type == IcmpEchoRequest && icmp.Code == 0)
        {
            ReplyToEcho(ref f);
            return;
        }
        if (icmp.Type == IcmpDestUnreachable && icmp.Code == CodeFragNeeded) LearnPmtu(ip.Payload);
        // Other ICMP addressed to us (replies, errors) ends here: consumed.
    }

    /// <summary>Turns the echo request into the reply in place (RFC 792): swap addresses, type 0, TTL 64, the
    /// request's TOS, DF clear as Linux sends it, then route it back like any locally originated packet.</summary>
    private void ReplyToEcho(ref Frame f)
    {
        Span<byte> packet = f.Data;
        Ipv4Header.TryParse(packet, out var ip);
        uint requester = ip.Source;
        ip.Source = ip.Destination;
        ip.Destination = requester;
        ip.Ttl = 64;
        ip.Identification = NextIpId();
        ip.FlagsAndFragment = 0;
        ip.ComputeChecksum();
        Span<byte> message = ip.Payload;
        // Type 8 → 0 changes one 16-bit word (type, code): patch the ICMP checksum incrementally (RFC 1624).
        message[0] = IcmpEchoReply;
        ushort sum = BinaryPrimitives.ReadUInt16BigEndian(message.Slice(2));
        BinaryPrimitives.WriteUInt16BigEndian(message.Slice(2),
            Checksum.IncrementalChecksum.Update16(sum, (ushort)(IcmpEchoRequest << 8 | message[1]), (ushort)(IcmpEchoReply << 8 | message[1])));
        RouteLocallyOriginated(ref f);
    }

    /// <summary>PMTU learning: an underlay frag-needed that quotes one of our tunnel packets lowers that
    /// tunnel's MTU for <see cref="TunnelPath.PmtuExpiresMs"/>.</summary>
    private void LearnPmtu(Span<byte> icmpMessage)
    {
        if (icmpMessage.Length < 8 + Ipv4Header.MinLength) return;
        int mtu = BinaryPrimitives.ReadUInt16BigEndian(icmpMessage.Slice(6));
        Span<byte> quoted = icmpMessage.Slice(8);
        uint src = BinaryPrimitives.ReadUInt32BigEndian(quoted.Slice(Ipv4Header.SourceOffset));
        uint dst = BinaryPrimitives.ReadUInt32BigEndian(quoted.Slice(Ipv4Header.DestinationOffset));
        byte proto = quoted[Ipv4Header.ProtocolOffset];
        foreach (var t in _s.Tunnels)
        {
            var settings = t.Tunnel.Settings;
            if (settings.Local == src && settings.Remote == dst && settings.Protocol == proto && mtu >= 68)
            {
                t.LearnPmtu(mtu, _now);
            }
        }
    }
}
