using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace FastTun.Packets.Datapath;

/// <summary>
/// ECMP next-hop selection, as Linux's L4 multipath hash (net.ipv4.fib_multipath_hash_policy = 1): a hash of the
/// 5-tuple (source, destination, protocol, source port, destination port) of the packet being routed, the inner
/// packet when it goes into a tunnel; for a fragment, or a protocol without ports, the 3-tuple (ports 0), so every
/// fragment of a datagram and every packet of a flow take the same path. The hash picks a member by
/// hash-threshold (RFC 2992, as the kernel's fib_select_multipath): equal slices of the 32-bit hash space.
/// The seed is random per process, as the kernel's per-boot key, and stays across reloads so flows keep
/// their paths while the group is unchanged.
/// Cost per packet: one 4-byte and one 8-byte read, a dozen integer operations, no allocation.
/// </summary>
public static class Multipath
{
    private static readonly uint Seed = (uint)Random.Shared.Next() | 1u;

    /// <summary>The hop to use for <paramref name="packet"/> (data at its IPv4 header, already validated):
    /// <paramref name="hop"/> itself unless it is a group. This is the one selection call of the pipeline,
    /// where a route lookup result becomes a next hop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref readonly NextHop Select(ForwardingState state, ref readonly NextHop hop, ReadOnlySpan<byte> packet)
    {
        if (hop.Kind != NextHopKind.Multipath) return ref hop;
        return ref SelectMember(state, hop.Group, packet);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ref readonly NextHop SelectMember(ForwardingState state, int group, ReadOnlySpan<byte> packet)
    {
        NextHop[] members = state.Multipath[group];
        return ref members[Pick(FlowHash(packet), members.Length)];
    }

    /// <summary>Hash-threshold: member i owns the hashes in [i·2³²/n, (i+1)·2³²/n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Pick(uint hash, int members) => (int)(((ulong)hash * (uint)members) >> 32);

    /// <summary>The flow hash of an IPv4 packet (data at its header). Reads the ports only for TCP, UDP, DCCP,
    /// SCTP and UDP-Lite, and only in an unfragmented packet whose header leaves room for them.</summary>
    public static uint FlowHash(ReadOnlySpan<byte> packet)
    {
        if (packet.Length < 20) return Seed;
        int headerLength = (packet[0] & 0x0F) << 2;
        byte protocol = packet[9];
        // Flags and fragment offset: MF set or a non-zero offset make it a fragment.
        bool fragment = (BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(6)) & 0x3FFF) != 0;
        uint ports = 0;
        if (!fragment && HasPorts(protocol) && packet.Length >= headerLength + 4)
            ports = BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(headerLength));
        ulong addresses = BinaryPrimitives.ReadUInt64BigEndian(packet.Slice(12)); // source, then destination
        return Hash((uint)(addresses >> 32), (uint)addresses, protocol, ports);
    }

    /// <summary>The hash of a tuple; ports are source port in the high 16 bits, destination port in the low.</summary>
    public static uint Hash(uint source, uint destination, byte protocol, uint ports)
    {
        uint h = Seed;
        h = Mix(h, source);
        h = Mix(h, destination);
        h = Mix(h, ports);
        h = Mix(h, protocol);
        // murmur3's finaliser: every input bit reaches the high bits that Pick uses.
        h ^= h >> 16;
        h *= 0x85EBCA6B;
        h ^= h >> 13;
        h *= 0xC2B2AE35;
        h ^= h >> 16;
        return h;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Mix(uint h, uint k)
    {
        k *= 0xCC9E2D51;
        k = BitOperations.RotateLeft(k, 15);
        k *= 0x1B873593;
        h ^= k;
        h = BitOperations.RotateLeft(h, 13);
        return h * 5 + 0xE6546B64;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool HasPorts(byte protocol) => protocol is 6 or 17 or 33 or 132 or 136;
}
