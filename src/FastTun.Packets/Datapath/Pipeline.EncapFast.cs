using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Datapath;

public sealed partial class Pipeline
{
    /// <summary>
    /// The encap run's common case in few instructions per packet: the tunnel's fields, the outer IP ID and the
    /// tunnel's counters are held in locals for the run (the counters and the next ID are written back once at the
    /// end), and each packet gets its outer IPv4 header (+ GRE) and its Ethernet header with fixed-size stores and
    /// no bounds checks. The bytes are exactly those of <see cref="TunnelEncap.Encapsulate(Tunnel, ref Frame, int, int)"/>
    /// followed by <see cref="WriteEthernet"/> (tests compare the two). The caller has resolved the neighbour
    /// (<paramref name="mac"/>) and has no capture tap.
    /// Returns how many items of <paramref name="run"/> it handled: it stops at the first live packet it cannot
    /// take as is (inner header shorter than 20 bytes, too big for <paramref name="portMtu"/>, too little headroom),
    /// which the caller sends through the general steps.
    /// </summary>
    private int EncapRunFast(Span<EncapItem> run, Tunnel tunnel, ulong mac, ulong sourceAndType, int portMtu, ushort port) =>
        tunnel.HeaderLength > Ipv4Header.MinLength
            ? EncapRunFast<GreShape>(run, tunnel, mac, sourceAndType, portMtu, port)
            : EncapRunFast<IpipShape>(run, tunnel, mac, sourceAndType, portMtu, port);

    /// <summary>Whether the tunnel has a GRE header after the outer IPv4 one: a type argument, so that the IPIP loop is
    /// compiled without the GRE code (fewer registers live, fewer spills).</summary>
    private interface IEncapShape
    {
        static abstract bool Gre { get; }
    }

    private struct IpipShape : IEncapShape
    {
        public static bool Gre => false;
    }

    private struct GreShape : IEncapShape
    {
        public static bool Gre => true;
    }

    private unsafe int EncapRunFast<TShape>(Span<EncapItem> run, Tunnel tunnel, ulong mac, ulong sourceAndType, int portMtu, ushort port)
        where TShape : struct, IEncapShape
    {
        int headerLength = tunnel.HeaderLength;
        int linkHeader = headerLength + 14;
        // Inner lengths the fast path takes: 20 .. (portMtu − tunnel header), which also keeps the outer length
        // within 65,535 (the port MTU is capped to it).
        int maxInner = Math.Min(portMtu, ushort.MaxValue) - headerLength;
        if (maxInner < Ipv4Header.MinLength) return 0;
        uint innerSpan = (uint)(maxInner - Ipv4Header.MinLength);

        // TOS: inherit keeps the inner DSCP (mask 0xFC), fixed takes the tunnel's; the ECN field comes from the
        // inner header with CE turned into ECT(0) (as TunnelEncap).
        uint dscpMask = tunnel.TosInherit ? 0xFFu & ~(uint)Ipv4Header.EcnMask : 0u;
        uint dscpFixed = tunnel.TosInherit ? 0u : tunnel.FixedDscp;
        uint fixedTtl = tunnel.FixedTtl;
        bool pmtu = tunnel.PmtuDiscovery;
        uint constantSum = tunnel.ConstantHeaderSum;
        uint protocolWord = (uint)tunnel.Protocol << 16;
        ulong addresses = ((ulong)tunnel.Local << 32) | tunnel.Remote; // source then destination: one 8-byte store
        addresses = BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(addresses) : addresses;
        ulong destination = mac << 16;
        destination = BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(destination) : destination;

        int worker = Worker, workers = Workers;
        ref TunnelWorkerSlot slot = ref tunnel.Slots[worker];
        if (slot.NextId == 0) slot.NextId = tunnel.NextId(worker, workers); // the worker's first ID, as NextId picks it
        int id = slot.NextId;
        int wrapId = 1 + worker;
        long packets = 0, bytes = 0;
        int rxForwarded = 0;

        Span<Frame> rx = _batch is null ? default : _batch.Frames;
        Span<Frame> built = Generated.Frames;
        int r = 0;
        for (; r < run.Length; r++)
        {
            if (r + EncapPrefetchAhead < run.Length) PrefetchEncap(rx, built, run[r + EncapPrefetchAhead].Frame, linkHeader);
            int index = run[r].Frame;
            ref Frame f = ref index >= 0 ? ref rx[index] : ref built[~index];
            if (f.Drop != DropReason.None) continue;
            int innerLength = f.Length;
            int offset = f.Offset;
            if ((uint)(innerLength - Ipv4Header.MinLength) > innerSpan || offset < linkHeader) break;

            byte* inner = (byte*)f.Buffer + offset;
            uint innerTos = inner[Ipv4Header.TosOffset];
            uint ecn = innerTos & (uint)Ipv4Header.EcnMask;
            ecn &= ~((ecn >> 1) & ecn & 1); // CE (11) → ECT(0) (10); the others unchanged
            uint tos = (innerTos & dscpMask) | dscpFixed | ecn;
            uint ttl = fixedTtl != 0 ? fixedTtl : inner[Ipv4Header.TtlOffset];
            uint flags = pmtu ? Ipv4Header.FlagDontFragment : ((uint)inner[Ipv4Header.FlagsFragmentOffset] << 8) & Ipv4Header.FlagDontFragment;
            uint totalLength = (uint)(innerLength + headerLength);
            uint sum = constantSum + tos + totalLength + (uint)id + flags + (ttl << 8);
            // Folded with end-around carry in three steps (the high half of sum + ror(sum, 16) is hi + lo + the carry
            // of lo + hi), not six: the sum is on each packet's dependency chain.
            uint checksum = ((sum + BitOperations.RotateRight(sum, 16)) >> 16) ^ 0xFFFF;

            byte* outer = inner - headerLength;
            TunnelEncap.StoreBigEndian(outer, 0x4500_0000u | (tos << 16) | totalLength);
            TunnelEncap.StoreBigEndian(outer + 4, ((uint)id << 16) | flags);
            TunnelEncap.StoreBigEndian(outer + 8, (ttl << 24) | protocolWord | checksum);
            Unsafe.WriteUnaligned(outer + 12, addresses);
            if (TShape.Gre) TunnelEncap.WriteGre(tunnel, outer, (int)totalLength);
            byte* ethernet = outer - 14;
            Unsafe.WriteUnaligned(ethernet, destination);
            Unsafe.WriteUnaligned(ethernet + 6, sourceAndType);

            f.Offset = offset - linkHeader;
            f.Length = (int)totalLength + 14;
            f.OutPort = port;
            id += workers;
            if (id > 0xFFFF) id = wrapId;
            packets++;
            rxForwarded += index >= 0 ? 1 : 0;
            bytes += innerLength;
        }
        _encapRxForwarded += rxForwarded;
        slot.NextId = id;
        slot.EncapPackets += packets;
        slot.EncapBytes += bytes;
        return r;
    }

    /// <summary>How many packets ahead the encap run asks for a packet's inner header line and the headroom line its
    /// outer headers go to: as in pass 3, the lines of a batch's frames share few L1 sets and have left the L1 since.</summary>
    private const int EncapPrefetchAhead = 6;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void PrefetchEncap(Span<Frame> rx, Span<Frame> built, int index, int linkHeader)
    {
        if (!Sse.IsSupported) return;
        if (index >= 0) { if ((uint)index >= (uint)rx.Length) return; }
        else if ((uint)~index >= (uint)built.Length) return;
        ref Frame g = ref index >= 0 ? ref rx[index] : ref built[~index];
        byte* inner = (byte*)g.Buffer + g.Offset;
        Sse.Prefetch0(inner);
        Sse.Prefetch0(inner - linkHeader);
    }
}
