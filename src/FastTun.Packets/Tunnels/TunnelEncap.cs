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
    public static DropReason Encapsulate(Tunnel tunnel, ref Frame frame) => Encapsulate(tunnel, ref frame, 0, 1);

    /// <summary>As <see cref="Encapsulate(Tunnel, ref Frame)"/> for worker <paramref name="worker"/> of
    /// <paramref name="workers"/>: its counters and its share of the IP ID space.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason Encapsulate(Tunnel tunnel, ref Frame frame, int worker, int workers) =>
        Encapsulate(tunnel, ref frame, worker, workers, headerChecksum: true);

    /// <summary>
    /// The encapsulation; <paramref name="headerChecksum"/> false leaves the outer IPv4 checksum field zero for a
    /// later batched pass (<see cref="Ipv4HeaderChecksum.WriteBatchAvx2"/>). The datapath passes true: the checksum
    /// from the template's constant sum plus the five changing words measured cheaper than any pass over the
    /// headers (bench/RESULTS.md, section worker); false exists so that the benchmark can show it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe DropReason Encapsulate(Tunnel tunnel, ref Frame frame, int worker, int workers, bool headerChecksum)
    {
        int innerLength = frame.Length;
        int headerLength = tunnel.HeaderLength;
        if (innerLength < Ipv4Header.MinLength) return DropReason.InnerMalformed;
        if (frame.Offset < headerLength) return DropReason.NoHeadroom;
        int totalLength = innerLength + headerLength;
        if (totalLength > ushort.MaxValue) return DropReason.FragNeeded;

        // Raw stores: the checks above guarantee headerLength bytes of headroom and a 20-byte inner header, and
        // fixed-size big-endian word stores avoid the per-field bounds checks and the variable-length template
        // copy (a memmove call) that cost more than the rest of the work.
        byte* outer = (byte*)frame.Buffer + frame.Offset - headerLength;
        byte* inner = outer + headerLength;

        int innerTos = inner[Ipv4Header.TosOffset];
        int innerEcn = innerTos & Ipv4Header.EcnMask;
        int ecn = innerEcn == Ipv4Header.EcnCe ? Ipv4Header.EcnEct0 : innerEcn;
        uint tos = (uint)((tunnel.TosInherit ? innerTos & ~Ipv4Header.EcnMask : tunnel.FixedDscp) | ecn);
        uint ttl = tunnel.FixedTtl != 0 ? tunnel.FixedTtl : inner[Ipv4Header.TtlOffset];
        uint flags = tunnel.PmtuDiscovery
            ? Ipv4Header.FlagDontFragment
            : (uint)(inner[Ipv4Header.FlagsFragmentOffset] << 8) & Ipv4Header.FlagDontFragment;
        uint id = tunnel.NextId(worker, workers);

        // Header checksum from the template's constant words plus the five that change: no pass over the header.
        uint sum = tunnel.ConstantHeaderSum + tos + (uint)totalLength + id + flags + (ttl << 8);
        uint checksum = headerChecksum ? (ushort)~InternetChecksum.Fold(sum) : 0u;

        StoreBigEndian(outer, 0x4500_0000u | (tos << 16) | (uint)totalLength);
        StoreBigEndian(outer + 4, (id << 16) | flags);
        StoreBigEndian(outer + 8, (ttl << 24) | ((uint)tunnel.Protocol << 16) | checksum);
        StoreBigEndian(outer + 12, tunnel.Local);
        StoreBigEndian(outer + 16, tunnel.Remote);

        if (headerLength > Ipv4Header.MinLength) WriteGre(tunnel, outer, totalLength);

        frame.Offset -= headerLength;
        frame.Length = totalLength;
        ref TunnelWorkerSlot slot = ref tunnel.Slots[worker];
        slot.EncapPackets++;
        slot.EncapBytes += innerLength;
        return DropReason.None;
    }

    /// <summary>The GRE header after the outer IPv4 header at <paramref name="outer"/> (<paramref name="totalLength"/>
    /// bytes of outer packet in all): flags, key, the next sequence number, and the checksum over the GRE header and
    /// the payload.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void WriteGre(Tunnel tunnel, byte* outer, int totalLength)
    {
        StoreBigEndian(outer + 20, tunnel.GreWord0);
        if (tunnel.OutputChecksum) StoreBigEndian(outer + 24, 0); // checksum + reserved1, summed as zero
        if (tunnel.KeyFieldOffset != 0) StoreBigEndian(outer + tunnel.KeyFieldOffset, tunnel.OutputKey);
        if (tunnel.SequenceFieldOffset != 0) StoreBigEndian(outer + tunnel.SequenceFieldOffset, tunnel.NextTxSequence());
        if (tunnel.OutputChecksum)
        {
            // Over the GRE header (key and sequence included) and the payload.
            var gre = new ReadOnlySpan<byte>(outer + Ipv4Header.MinLength, totalLength - Ipv4Header.MinLength);
            ushort sum = InternetChecksum.Compute(gre);
            *(ushort*)(outer + 24) = BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(sum) : sum;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void StoreBigEndian(byte* destination, uint value) =>
        Unsafe.WriteUnaligned(destination, BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(value) : value);

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
