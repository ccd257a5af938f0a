using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using FastTun.Packets.Checksum;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;

namespace FastTun.Packets.Tunnels;

/// <summary>
/// Puts a forwarded IPv4 packet into its tunnel, writing the bytes Linux 6.1 <c>ip_tunnel_xmit</c> +
/// <c>gre_build_header</c> write for the same settings (DESIGN.md §3):
/// <list type="bullet">
/// <item>TTL: the fixed value, or the inner TTL as it is now (inherit).</item>
/// <item>TOS: the fixed DSCP or the inner DSCP (inherit); the ECN field is the inner one, except that inner
/// CE becomes ECT(0) (Linux <c>INET_ECN_encapsulate</c>: CE is never copied outwards).</item>
/// <item>DF: always with PMTU discovery; otherwise copied from the inner header.</item>
/// <item>ID: fresh and non-zero per packet. GRE: key, sequence (0 first), checksum over GRE + payload.</item>
/// </list>
/// The outer header goes into the frame's headroom; the payload is never moved.
/// </summary>
public static class TunnelEncap
{
    /// <summary>
    /// On entry <paramref name="frame"/>'s data is the inner IPv4 packet; on success it is the outer packet.
    /// The inner header is trusted to be IPv4 (the forwarding stage parsed it); only its length is checked.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason Encapsulate(Tunnel tunnel, ref Frame frame)
    {
        int innerLength = frame.Length;
        int headerLength = tunnel.HeaderLength;
        if (innerLength < Ipv4Header.MinLength) return DropReason.InnerMalformed;
        if (frame.Offset < headerLength) return DropReason.NoHeadroom;
        int totalLength = innerLength + headerLength;
        if (totalLength > ushort.MaxValue) return DropReason.FragNeeded;

        frame.Prepend(headerLength);
        Span<byte> packet = frame.Data;
        tunnel.Template.AsSpan().CopyTo(packet);
        ReadOnlySpan<byte> inner = packet.Slice(headerLength, Ipv4Header.MinLength);

        byte innerTos = inner[Ipv4Header.TosOffset];
        int innerEcn = innerTos & Ipv4Header.EcnMask;
        int ecn = innerEcn == Ipv4Header.EcnCe ? Ipv4Header.EcnEct0 : innerEcn;
        int tos = (tunnel.TosInherit ? innerTos & ~Ipv4Header.EcnMask : tunnel.FixedDscp) | ecn;
        int ttl = tunnel.FixedTtl != 0 ? tunnel.FixedTtl : inner[Ipv4Header.TtlOffset];
        int flags = tunnel.PmtuDiscovery
            ? Ipv4Header.FlagDontFragment
            : BinaryPrimitives.ReadUInt16BigEndian(inner.Slice(Ipv4Header.FlagsFragmentOffset)) & Ipv4Header.FlagDontFragment;
        ushort id = tunnel.NextId();

        packet[Ipv4Header.TosOffset] = (byte)tos;
        BinaryPrimitives.WriteUInt16BigEndian(packet.Slice(Ipv4Header.TotalLengthOffset), (ushort)totalLength);
        BinaryPrimitives.WriteUInt16BigEndian(packet.Slice(Ipv4Header.IdentificationOffset), id);
        BinaryPrimitives.WriteUInt16BigEndian(packet.Slice(Ipv4Header.FlagsFragmentOffset), (ushort)flags);
        packet[Ipv4Header.TtlOffset] = (byte)ttl;

        // Header checksum from the template's constant words plus the five that change: no pass over the header.
        uint sum = tunnel.ConstantHeaderSum + (uint)tos + (uint)totalLength + id + (uint)flags + ((uint)ttl << 8);
        BinaryPrimitives.WriteUInt16BigEndian(packet.Slice(Ipv4Header.ChecksumOffset), (ushort)~InternetChecksum.Fold(sum));

        if (tunnel.SequenceFieldOffset != 0)
            BinaryPrimitives.WriteUInt32BigEndian(packet.Slice(tunnel.SequenceFieldOffset), tunnel.NextTxSequence());
        if (tunnel.OutputChecksum)
        {
            // The template holds 0 in the field; the sum covers the GRE header (key and sequence included) and payload.
            Span<byte> gre = packet.Slice(Ipv4Header.MinLength);
            BinaryPrimitives.WriteUInt16BigEndian(gre.Slice(GreHeader.OptionsOffset), InternetChecksum.Compute(gre));
        }

        tunnel._encapPackets++;
        tunnel._encapBytes += innerLength;
        return DropReason.None;
    }

    /// <summary>
    /// Encapsulates every frame of <paramref name="batch"/> not already dropped into <paramref name="tunnel"/>,
    /// marking failures in <see cref="Frame.Drop"/>. Returns the number encapsulated.
    /// </summary>
    public static int EncapsulateBatch(Tunnel tunnel, PacketBatch batch)
    {
        int done = 0;
        Span<Frame> frames = batch.Frames;
        for (int i = 0; i < frames.Length; i++)
        {
            ref Frame f = ref frames[i];
            if (f.Drop != DropReason.None) continue;
            DropReason r = Encapsulate(tunnel, ref f);
            if (r == DropReason.None) done++;
            else f.Drop = r;
        }
        return done;
    }
}
