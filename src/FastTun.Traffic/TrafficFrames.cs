using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using FastTun.Packets.Checksum;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;

namespace FastTun.Traffic;

/// <summary>
/// The generator's frames, built once, one buffer per batch slot, and patched per packet: flow (UDP source
/// port and payload flow id), IP ID, sequence, timestamp, and both checksums from sums precomputed with those
/// fields zero (RFC 1624: add the new words, fold, complement). Nothing is copied per packet except, for
/// ipip/gre, the outer header that <see cref="TunnelEncap"/> prepends in front of the untouched inner packet.
/// </summary>
public sealed unsafe class TrafficFrames : IDisposable
{
    /// <summary>Where the inner IPv4 header sits in a slot buffer: pool headroom + room for Ethernet, the
    /// largest tunnel header (IPv4 + GRE with key, checksum and sequence = 36) and VXLAN (50).</summary>
    private const int InnerIpSlack = 64;

    private readonly TrafficSpec _spec;
    private readonly FramePool _pool;
    private readonly Frame[] _slots;
    private readonly Tunnel? _tunnel;
    private readonly byte[] _ethernet = new byte[EthernetHeader.Length];
    private readonly int _innerIp;   // offset of the inner IPv4 header from the buffer start
    private readonly int _frameStart; // offset of the Ethernet header (plain and VXLAN)
    private readonly int _ipLength;
    private readonly uint _ipBaseSum;
    private readonly uint _udpBaseSum;

    public TrafficFrames(TrafficSpec spec, int slots)
    {
        if (spec.Size is < TrafficSpec.MinSize or > TrafficSpec.MaxSize)
            throw new ArgumentOutOfRangeException(nameof(spec), spec.Size, $"size must be {TrafficSpec.MinSize}..{TrafficSpec.MaxSize}");
        if (spec.Flows is < 1 or > 65536) throw new ArgumentOutOfRangeException(nameof(spec), spec.Flows, "flows must be 1..65536");
        _spec = spec;
        _ipLength = spec.Size - EthernetHeader.Length;
        int frameSize = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)(FramePool.DefaultHeadroom + InnerIpSlack + _ipLength + 64));
        _pool = new FramePool(slots, Math.Max(2048, frameSize));
        _slots = new Frame[slots];
        _innerIp = FramePool.DefaultHeadroom + InnerIpSlack;
        _frameStart = spec.Encap == TrafficEncap.Vxlan ? _innerIp - TrafficSpec.VxlanOverhead - EthernetHeader.Length : _innerIp - EthernetHeader.Length;
        if (spec.Encap is TrafficEncap.Ipip or TrafficEncap.Gre)
        {
            if (spec.Tunnel is null) throw new ArgumentException("ipip/gre encapsulation needs tunnel settings", nameof(spec));
            _tunnel = new Tunnel(spec.Tunnel);
        }
        EthernetHeader.Write(_ethernet, spec.DestinationMac, spec.SourceMac, EthernetHeader.EtherTypeIPv4);

        for (int i = 0; i < slots; i++)
        {
            ref Frame f = ref _slots[i];
            if (!_pool.TryRent(ref f)) throw new InvalidOperationException("frame pool too small");
            var buffer = new Span<byte>((byte*)f.Buffer, f.Capacity);
            BuildSlot(buffer);
            f.Offset = _frameStart;
            f.Length = spec.Encap == TrafficEncap.Vxlan ? spec.WireSize : spec.Size;
        }

        // Base sums over slot 0 with every per-packet field still zero.
        var ip = new Span<byte>((byte*)_slots[0].Buffer + _innerIp, _ipLength);
        _ipBaseSum = InternetChecksum.Fold(InternetChecksum.Sum(ip.Slice(0, Ipv4Header.MinLength)));
        int udpLength = _ipLength - Ipv4Header.MinLength;
        _udpBaseSum = InternetChecksum.Fold(InternetChecksum.Sum(ip.Slice(Ipv4Header.MinLength, udpLength),
            UdpHeader.PseudoHeaderSum(spec.Source, spec.Destination, Ipv4Header.ProtocolUdp, udpLength)));
    }

    public int Slots => _slots.Length;
    public TrafficSpec Spec => _spec;

    private void BuildSlot(Span<byte> buffer)
    {
        Span<byte> ip = buffer.Slice(_innerIp, _ipLength);
        int udpLength = _ipLength - Ipv4Header.MinLength;
        Ipv4Header.Write(ip, 0, (ushort)_ipLength, 0, Ipv4Header.FlagDontFragment, _spec.Ttl, Ipv4Header.ProtocolUdp,
            _spec.Source, _spec.Destination);
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(Ipv4Header.ChecksumOffset), 0);
        Span<byte> udp = ip.Slice(Ipv4Header.MinLength, udpLength);
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(UdpHeader.SourcePortOffset), 0);
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(UdpHeader.DestinationPortOffset), _spec.DestinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(UdpHeader.LengthOffset), (ushort)udpLength);
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(UdpHeader.ChecksumOffset), 0);
        Span<byte> payload = udp.Slice(UdpHeader.Length);
        for (int i = TrafficPayload.Length; i < payload.Length; i++) payload[i] = (byte)i;
        TrafficPayload.Write(payload, 0, 0, 0);

        if (_spec.Encap == TrafficEncap.Vxlan) BuildVxlan(buffer);
        else if (_spec.Encap == TrafficEncap.None) _ethernet.CopyTo(buffer.Slice(_frameStart));
    }

    /// <summary>Ethernet + outer IPv4 + UDP 4789 (checksum 0, allowed for VXLAN over IPv4) + VXLAN + inner Ethernet,
    /// all constant: the outer headers never change, so nothing outside the inner packet is patched.</summary>
    private void BuildVxlan(Span<byte> buffer)
    {
        Span<byte> frame = buffer.Slice(_frameStart);
        _ethernet.CopyTo(frame);
        int outerLength = TrafficSpec.VxlanOverhead + _ipLength;
        Span<byte> outer = frame.Slice(EthernetHeader.Length);
        Ipv4Header.Write(outer, 0, (ushort)outerLength, 1, Ipv4Header.FlagDontFragment, 64, Ipv4Header.ProtocolUdp,
            _spec.OuterSource, _spec.OuterDestination);
        Span<byte> udp = outer.Slice(Ipv4Header.MinLength);
        // Source port spreads flows over receive queues on a real NIC, as Linux's VXLAN does from the inner hash.
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(UdpHeader.SourcePortOffset), 49152);
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(UdpHeader.DestinationPortOffset), TrafficSpec.VxlanPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(UdpHeader.LengthOffset), (ushort)(outerLength - Ipv4Header.MinLength));
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(UdpHeader.ChecksumOffset), 0);
        Span<byte> vxlan = udp.Slice(UdpHeader.Length);
        BinaryPrimitives.WriteUInt32BigEndian(vxlan, 0x08000000); // I flag: the VNI is valid
        BinaryPrimitives.WriteUInt32BigEndian(vxlan.Slice(4), _spec.Vni << 8);
        byte[] innerDst = _spec.InnerDestinationMac ?? _spec.DestinationMac;
        EthernetHeader.Write(vxlan.Slice(8), innerDst, _spec.SourceMac, EthernetHeader.EtherTypeIPv4);
    }

    /// <summary>Makes slot <paramref name="slot"/> packet number <paramref name="sequence"/> of flow
    /// <paramref name="flow"/>, stamped <paramref name="timestamp"/>, and copies its descriptor into
    /// <paramref name="frame"/> ready for TxBurst (OutPort set by the caller).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Fill(int slot, ushort flow, ulong sequence, long timestamp, ref Frame frame)
    {
        ref Frame s = ref _slots[slot];
        var ip = new Span<byte>((byte*)s.Buffer + _innerIp, _ipLength);
        ushort id = (ushort)sequence;
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(Ipv4Header.IdentificationOffset), id);
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(Ipv4Header.ChecksumOffset), (ushort)~InternetChecksum.Fold(_ipBaseSum + id));
        Span<byte> udp = ip.Slice(Ipv4Header.MinLength);
        ushort port = (ushort)(_spec.SourcePortBase + flow);
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(UdpHeader.SourcePortOffset), port);
        Span<byte> payload = udp.Slice(UdpHeader.Length);
        BinaryPrimitives.WriteUInt16BigEndian(payload.Slice(TrafficPayload.FlowOffset), flow);
        uint sum = _udpBaseSum + port + flow + TrafficPayload.Patch(payload, sequence, timestamp);
        ushort checksum = (ushort)~InternetChecksum.Fold(sum);
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(UdpHeader.ChecksumOffset), checksum == 0 ? (ushort)0xFFFF : checksum);

        frame = s;
        if (_tunnel is not null)
        {
            frame.Offset = _innerIp;
            frame.Length = _ipLength;
            TunnelEncap.Encapsulate(_tunnel, ref frame);
            _ethernet.CopyTo(frame.Prepend(EthernetHeader.Length));
        }
        frame.Flags = FrameFlags.None;
        frame.Drop = DropReason.None;
    }

    public void Dispose() => _pool.Dispose();
}
