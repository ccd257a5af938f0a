using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using FastTun.Packets.Headers;

namespace FastTun.Packets.Datapath;

public sealed partial class Pipeline
{
    public const byte IcmpEchoReply = 0;
    public const byte IcmpDestUnreachable = 3;
    public const byte IcmpEchoRequest = 8;
    public const byte IcmpTimeExceeded = 11;
    public const byte CodeNetUnreachable = 0;
    public const byte CodeHostUnreachable = 1;
    public const byte CodeProtocolUnreachable = 2;
    public const byte CodePortUnreachable = 3;
    public const byte CodeFragNeeded = 4;

    /// <summary>Linux quotes as much of the original as fits in a 576-byte error (RFC 1812 §4.3.2.3).</summary>
    public const int IcmpErrorMaxLength = 576;
    /// <summary>TOS of the errors the router sends: 0xc0 (internetwork control), as Linux does.</summary>
    public const byte IcmpErrorTos = 0xC0;

    /// <summary>
    /// Builds an ICMP error about <paramref name="original"/> (data at its IPv4 header) and routes it back to the
    /// original source. Its source address is the address of the interface it leaves by (1.1.1.2 when it goes
    /// back into tun0). Suppressed, as RFC 1122 §3.2.2 asks, for errors about ICMP errors, non-first
    /// fragments, and broadcast, multicast or zero sources; limited by the token bucket.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void SendIcmpError(ReadOnlySpan<byte> original, byte type, byte code, uint restOfHeader)
    {
        if (original.Length < Ipv4Header.MinLength) return;
        uint source = BinaryPrimitives.ReadUInt32BigEndian(original.Slice(Ipv4Header.SourceOffset));
        ushort fragment = BinaryPrimitives.ReadUInt16BigEndian(original.Slice(Ipv4Header.FlagsFragmentOffset));
        if (source == 0 || source == 0xFFFF_FFFF || (source >> 28) == 0xE || (fragment & Ipv4Header.FragmentOffsetMask) != 0) return;
        if (original[Ipv4Header.ProtocolOffset] == Ipv4Header.ProtocolIcmp)
        {
            int ihl = (original[0] & 0x0F) << 2;
            if (original.Length <= ihl) return;
            byte quotedType = original[ihl];
            if (quotedType is not (IcmpEchoRequest or IcmpEchoReply or 13 or 14 or 15 or 16)) return; // an error: never answer
        }
        if (!_icmpLimiter.TryTake(_now)) { Counters.Drop(DropReason.IcmpRateLimited); return; }

        // The way back decides the source address.
        uint backIndex = _routes.Lookup(source);
        if (backIndex >= (uint)_hops.Length) return;
        uint from = _s.EgressAddress(in _hops[backIndex]);
        if (from == 0) return;

        if (GeneratedFull) { Counters.Drop(DropReason.PoolExhausted); return; }
        ref Frame g = ref AddGenerated();
        if (!_pool.TryRent(ref g)) { Generated.Count--; Counters.Drop(DropReason.PoolExhausted); return; }
        g.Flags = FrameFlags.Generated;
        int quoteLength = Math.Min(original.Length, IcmpErrorMaxLength - Ipv4Header.MinLength - 8);
        int total = Ipv4Header.MinLength + 8 + quoteLength;
        if (g.Tailroom < total) { ReleaseOwned(in g); Generated.Count--; return; }
        g.Length = total;
        Span<byte> packet = g.Data;
        Ipv4Header.Write(packet, IcmpErrorTos, (ushort)total, NextIpId(), dontFragment: false, 64,
            Ipv4Header.ProtocolIcmp, from, source);
        Span<byte> message = packet.Slice(Ipv4Header.MinLength);
        message[0] = type;
        message[1] = code;
        BinaryPrimitives.WriteUInt16BigEndian(message.Slice(2), 0);
        BinaryPrimitives.WriteUInt32BigEndian(message.Slice(4), restOfHeader);
        original.Slice(0, quoteLength).CopyTo(message.Slice(8));
        BinaryPrimitives.WriteUInt16BigEndian(message.Slice(2), Checksum.InternetChecksum.Compute(message));
        Counters.IcmpSent++;
        RouteLocallyOriginated(ref g);
    }

    /// <summary>IP ID of a packet the gateway originates: from this worker's residue class (ID − 1 ≡ worker
    /// mod workers), non-zero, so two workers never send the same ID within a wrap.</summary>
    private ushort NextIpId()
    {
        int id = _ipId;
        int next = id + Workers;
        _ipId = next > 0xFFFF ? 1 + Worker : next;
        return (ushort)id;
    }
}
