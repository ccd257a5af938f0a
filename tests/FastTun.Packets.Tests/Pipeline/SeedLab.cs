using System.Buffers.Binary;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using FastTun.Packets.Routing;
using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Tests.Pipeline;

/// <summary>
/// gw1 and gw2 of the seed as two in-memory pipelines, wired eth2 ↔ eth2, with server1 and server2 as
/// static neighbours. Frames leaving a gateway are collected per port; <see cref="Carry"/> moves underlay frames
/// to the other gateway. No I/O, no root.
/// </summary>
public sealed class SeedLab : IDisposable
{
    public const ulong Server1Mac = 0xaac1ab526107, Gw1Eth1Mac = 0x02000000_0101, Gw1Eth2Mac = 0x02000000_0102;
    public const ulong Server2Mac = 0xaac1ab999999, Gw2Eth1Mac = 0x02000000_0201, Gw2Eth2Mac = 0x02000000_0202;
    public const uint Server1 = 0x0A01050A, Server2 = 0x0A01080A, Gw1Lan = 0x0A010501, Gw2Lan = 0x0A010801;
    public const uint Gw1Wan = 0xAC0C010A, Gw2Wan = 0xAC0C010B, Tun1 = 0x01010101, Tun2 = 0x01010102;
    public const ushort Eth1 = 0, Eth2 = 1;

    public SeedLab(TunnelMode mode = TunnelMode.Ipip, uint? key = null, bool checksum = false, bool sequence = false,
        bool staticNeighbors = true, RpFilterMode rpFilter = RpFilterMode.Loose)
    {
        State1 = Gateway(Gw1Eth1Mac, Gw1Eth2Mac, 0x0A010501, 0xAC0C010A, Tun1, remote: Gw2Wan, farLan: 0x0A010800, mode, key, checksum, sequence, rpFilter);
        State2 = Gateway(Gw2Eth1Mac, Gw2Eth2Mac, 0x0A010801, 0xAC0C010B, Tun2, remote: Gw1Wan, farLan: 0x0A010500, mode, key, checksum, sequence, rpFilter);
        Neighbors1 = new NeighborTable();
        Neighbors2 = new NeighborTable();
        // As GatewayRuntime does (edge hook): ARP learns only from the ports' connected subnets.
        Neighbors1.SetConnected([(Eth1, 0x0A010500, 24), (Eth2, 0xAC0C0100, 24)]);
        Neighbors2.SetConnected([(Eth1, 0x0A010800, 24), (Eth2, 0xAC0C0100, 24)]);
        if (staticNeighbors)
        {
            Neighbors1.AddStatic(Eth1, Server1, Server1Mac, 0);
            Neighbors1.AddStatic(Eth2, Gw2Wan, Gw2Eth2Mac, 0);
            Neighbors2.AddStatic(Eth1, Server2, Server2Mac, 0);
            Neighbors2.AddStatic(Eth2, Gw1Wan, Gw1Eth2Mac, 0);
        }
        Gw1 = new Packets.Datapath.Pipeline(() => State1, Neighbors1);
        Gw2 = new Packets.Datapath.Pipeline(() => State2, Neighbors2);
    }

    /// <summary>
    /// The forwarding state the gateway builds from the seed's configuration (VyOS <c>set interfaces …</c>):
    /// eth1 with a /24 LAN address, eth2 with a /24 underlay address, tun0 with a /24 tunnel address towards
    /// <paramref name="remote"/>, and a static route for the far LAN via the far tunnel address. Routes in the
    /// kernel's terms: own addresses /32 local, connected subnets, the static route into the tunnel.
    /// </summary>
    public static ForwardingState Gateway(ulong eth1Mac, ulong eth2Mac, uint lan, uint wan, uint tunnelAddress, uint remote,
        uint farLan, TunnelMode mode = TunnelMode.Ipip, uint? key = null, bool checksum = false, bool sequence = false,
        RpFilterMode rpFilter = RpFilterMode.Loose)
    {
        // VyOS 1.2's defaults for an unset ttl and tos: ttl 255, tos inherit.
        var settings = new TunnelSettings("tun0", mode, wan, remote, ttl: 255, tos: TunnelTos.InheritFromInner,
            key: key, checksum: checksum, sequence: sequence);
        var tunnel = new Tunnel(settings);
        var ports = new[]
        {
            new PortInfo(Eth1, "eth1", eth1Mac, 1500, [lan]),
            new PortInfo(Eth2, "eth2", eth2Mac, 1500, [wan]),
        };
        var tunnels = new[] { new TunnelPath(tunnel, settings.Mtu(1500), tunnelAddress) };
        var decap = new TunnelTable();
        decap.Add(tunnel);
        var hops = new[] { NextHop.Into(0), NextHop.ConnectedTo(Eth1), NextHop.ConnectedTo(Eth2), NextHop.LocalDelivery };
        var table = new Lpm4Table();
        table.AddOrReplace(farLan, 24, 0);
        table.AddOrReplace(lan & 0xFFFFFF00, 24, 1);
        table.AddOrReplace(wan & 0xFFFFFF00, 24, 2);
        table.AddOrReplace(tunnelAddress & 0xFFFFFF00, 24, 0);
        foreach (uint own in new[] { lan, wan, tunnelAddress }) table.AddOrReplace(own, 32, 3);
        // The gateway's default source check (StateBuilder): loose rp-filter, martians and own addresses.
        return new ForwardingState(table, hops, ports, tunnels, decap) { Sources = new SourceCheck(rpFilter, [lan, wan, tunnelAddress]) };
    }

    /// <summary>Another worker's pipeline on gw1's state and neighbours.</summary>
    public Packets.Datapath.Pipeline Gw1Worker(int worker, int workers, TunnelHandoff? handoff = null) =>
        new(() => State1, Neighbors1, worker: worker, workers: workers, handoff: handoff);

    public ForwardingState State1 { get; }
    public ForwardingState State2 { get; }
    public NeighborTable Neighbors1 { get; }
    public NeighborTable Neighbors2 { get; }
    public Packets.Datapath.Pipeline Gw1 { get; }
    public Packets.Datapath.Pipeline Gw2 { get; }
    public long Now { get; set; } = 1_000;

    private readonly FramePool _pool = new(512, 70 * 1024);

    /// <summary>A frame sent out of a gateway: its port and a copy of its bytes.</summary>
    public readonly record struct Sent(ushort Port, byte[] Bytes, DropReason Drop);

    /// <summary>Runs <paramref name="frames"/> (port, bytes) through <paramref name="gw"/>; returns what went out
    /// (forwarded rx frames and generated frames) and the per-frame outcome of the rx frames.</summary>
    public (List<Sent> Out, List<Sent> Rx) Run(Packets.Datapath.Pipeline gw, params (ushort Port, byte[] Bytes)[] frames)
    {
        var batch = new PacketBatch(64);
        foreach (var (port, bytes) in frames)
        {
            ref Frame f = ref batch.Add();
            Assert.True(_pool.TryRent(ref f));
            f.Length = bytes.Length;
            bytes.CopyTo(f.Data);
            f.InPort = port;
        }
        var output = gw.Process(batch, Now);
        var outList = new List<Sent>();
        // What the worker transmits, in wire order: forwarded rx frames and built frames in their place.
        foreach (ref Frame f in output.Frames)
            if (f.Drop == DropReason.None && f.OutPort != PacketBatch.NoPort) outList.Add(new Sent(f.OutPort, f.Data.ToArray(), f.Drop));
        var rx = new List<Sent>();
        for (int i = 0; i < batch.Count; i++)
        {
            ref Frame f = ref batch[i];
            rx.Add(new Sent(f.OutPort, f.Data.ToArray(), f.Drop));
        }
        gw.Transmitted(batch);
        foreach (ref Frame f in batch.Frames) _pool.Return(f);
        gw.Tick(Now);
        outList.AddRange(Drain(gw));
        return (outList, rx);
    }

    public static List<Sent> Drain(Packets.Datapath.Pipeline gw)
    {
        var list = new List<Sent>();
        foreach (ref Frame g in gw.Generated.Frames)
            if (g.Drop == DropReason.None && g.OutPort != PacketBatch.NoPort) list.Add(new Sent(g.OutPort, g.Data.ToArray(), g.Drop));
        gw.ReleaseGenerated();
        return list;
    }

    /// <summary>A frame from server1 to gw1 (or any host to a gateway port) carrying <paramref name="ip"/>.</summary>
    public static byte[] Eth(ulong dst, ulong src, byte[] ip, ushort etherType = 0x0800)
    {
        var f = new byte[14 + ip.Length];
        NeighborEntry.WriteMac(dst, f);
        NeighborEntry.WriteMac(src, f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), etherType);
        ip.CopyTo(f, 14);
        return f;
    }

    public static byte[] Ping(uint src, uint dst, byte ttl = 64, int payload = 56, bool df = true, byte tos = 0, ushort seq = 1)
    {
        var p = new byte[20 + 8 + payload];
        Ipv4Header.Write(p, tos, (ushort)p.Length, 0x4242, df, ttl, Ipv4Header.ProtocolIcmp, src, dst);
        IcmpHeader.WriteEcho(p.AsSpan(20), request: true, 0x77, seq);
        for (int i = 0; i < payload; i++) p[28 + i] = (byte)i;
        IcmpHeader.TryParse(p.AsSpan(20), out var icmp);
        icmp.ComputeChecksum();
        return p;
    }

    public static byte[] Udp(uint src, uint dst, byte ttl, ushort dstPort = 33434)
    {
        var p = new byte[20 + 8 + 32];
        Ipv4Header.Write(p, 0, (ushort)p.Length, 0x1111, false, ttl, Ipv4Header.ProtocolUdp, src, dst);
        UdpHeader.Write(p.AsSpan(20), 40000, dstPort, src, dst);
        return p;
    }

    /// <summary>The IPv4 packet inside an Ethernet frame.</summary>
    public static byte[] L3(byte[] frame) => frame.AsSpan(14).ToArray();

    public void Dispose()
    {
        Gw1.Dispose();
        Gw2.Dispose();
        _pool.Dispose();
    }
}
