using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using FastTun.Packets.Checksum;
using FastTun.Packets.Headers;

namespace FastTun.Packets.Datapath;

public sealed partial class Pipeline
{
    /// <summary>
    /// <see cref="Route"/> for the packet almost every packet is, in few instructions: a plain next hop into a tunnel
    /// (queued for pass 5) or out of a port to a neighbour whose MAC the one-entry cache holds (usable, not stale),
    /// a TTL above 1, and a length within the MTU. Only when every check passes does it change the packet (TTL − 1
    /// with the checksum patched, then the queue entry or the Ethernet header), with the same bytes, order key and
    /// outcome as <see cref="Route"/>; otherwise it returns false having changed nothing, and the caller routes the
    /// packet by the general path, which names any drop. <paramref name="rxIndex"/> is the frame's index in the rx
    /// batch (pass 3 and pass 4 both route rx frames). The packet is a valid IPv4 packet (pass 1 or the inner
    /// checks), data at its header; <paramref name="ttlWord"/> is its header bytes 8–11 (<see cref="LoadTtlWord"/>, or
    /// pass 1's copy).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe bool TryForwardFast(ref Frame f, uint hopIndex, int rxIndex, uint ttlWord)
    {
        NextHop[] hops = _hops;
        if (hopIndex >= (uint)hops.Length) return false;
        ref NextHop hop = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(hops), (nint)hopIndex);
        byte* ip = (byte*)f.Buffer + f.Offset;
        if (IncrementalChecksum.TtlOfWord(ttlWord) <= 1) return false;
        NextHopKind kind = hop.Kind;
        if (kind == NextHopKind.Tunnel)
        {
            int tunnel = hop.Tunnel;
            TunnelPath[] tunnels = _s.Tunnels;
            if ((uint)tunnel >= (uint)tunnels.Length) return false;
            TunnelPath path = tunnels[tunnel];
            if (f.Length > path.Mtu(_now)) return false;
            EncapItem[] queue = _encap;
            int count = _encapCount;
            if ((uint)count >= (uint)queue.Length) return false;
            Unsafe.WriteUnaligned(ip + Ipv4Header.TtlOffset, IncrementalChecksum.DecrementTtlWord(ttlWord));
            int key = rxIndex + 1; // the order key pass 3 gives this frame (its _anchor)
            if (key < _encapLastKey) _encapUnsorted = true;
            _encapLastKey = key;
            ref EncapItem e = ref queue[count];
            e.Frame = rxIndex;
            e.Key = key;
            e.Tunnel = tunnel;
            _encapCount = count + 1;
            f.OutPort = PacketBatch.NoPort;
            return true;
        }
        if (kind is NextHopKind.Connected or NextHopKind.Gateway)
        {
            ushort portId = hop.Port;
            PortInfo[] ports = _s.Ports;
            if (portId >= (uint)ports.Length) return false;
            PortInfo port = ports[portId];
            if (f.Length > port.Mtu || f.Offset < 14) return false;
            uint neighborIp = kind == NextHopKind.Gateway ? hop.Gateway : LoadBigEndian(ip + Ipv4Header.DestinationOffset);
            NeighborEntry? entry = _lastNeighbor;
            if (entry is null || entry.Ip != neighborIp || entry.Port != portId
                || !entry.TryGetUsable(out ulong mac, out var state) || state == NeighborState.Stale) return false;
            Unsafe.WriteUnaligned(ip + Ipv4Header.TtlOffset, IncrementalChecksum.DecrementTtlWord(ttlWord));
            WriteEthernet(ref f, mac, port.SourceAndType);
            f.OutPort = portId;
            return true;
        }
        return false;
    }

    /// <summary>Header bytes 8–11 (TTL, protocol, checksum) of the valid IPv4 packet <paramref name="f"/> holds, as
    /// <see cref="TryForwardFast"/> takes them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe uint LoadTtlWord(ref Frame f) =>
        Unsafe.ReadUnaligned<uint>((byte*)f.Buffer + f.Offset + Ipv4Header.TtlOffset);

    /// <summary>A field of the wire read with a native 32-bit load, as a number.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint BigEndianOf(uint nativeWord) =>
        BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(nativeWord) : nativeWord;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe uint LoadBigEndian(byte* p)
    {
        uint value = Unsafe.ReadUnaligned<uint>(p);
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(value) : value;
    }
}
