using System.Buffers.Binary;
using FastTun.Gateway.Config;
using FastTun.Gateway.Dataplane;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastTun.Gateway.Tests.Pipeline;

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

    public static string Gw1Config(string tunnelExtra = "", string encapsulation = "ipip") => $"""
        set interfaces ethernet eth1 address '10.1.5.1/24'
        set interfaces ethernet eth2 address '172.12.1.10/24'
        set interfaces tunnel tun0 address '1.1.1.1/24'
        set interfaces tunnel tun0 encapsulation '{encapsulation}'
        set interfaces tunnel tun0 local-ip '172.12.1.10'
        set interfaces tunnel tun0 remote-ip '172.12.1.11'
        {tunnelExtra}
        set protocols static route 10.1.8.0/24 next-hop 1.1.1.2
        """;

    public static string Gw2Config(string tunnelExtra = "", string encapsulation = "ipip") => $"""
        set interfaces ethernet eth1 address '10.1.8.1/24'
        set interfaces ethernet eth2 address '172.12.1.11/24'
        set interfaces tunnel tun0 address '1.1.1.2/24'
        set interfaces tunnel tun0 encapsulation '{encapsulation}'
        set interfaces tunnel tun0 local-ip '172.12.1.11'
        set interfaces tunnel tun0 remote-ip '172.12.1.10'
        {tunnelExtra}
        set protocols static route 10.1.5.0/24 next-hop 1.1.1.1
        """;

    public SeedLab(string tunnelExtra = "", string encapsulation = "ipip", bool staticNeighbors = true)
    {
        var c1 = GatewayConfig.Parse(Gw1Config(tunnelExtra, encapsulation), "gw1", NullLogger.Instance);
        var c2 = GatewayConfig.Parse(Gw2Config(tunnelExtra, encapsulation), "gw2", NullLogger.Instance);
        State1 = StateBuilder.Build(c1, [new PortFacts("eth1", Gw1Eth1Mac, 1500), new PortFacts("eth2", Gw1Eth2Mac, 1500)]);
        State2 = StateBuilder.Build(c2, [new PortFacts("eth1", Gw2Eth1Mac, 1500), new PortFacts("eth2", Gw2Eth2Mac, 1500)]);
        Neighbors1 = new NeighborTable();
        Neighbors2 = new NeighborTable();
        Neighbors1.SetConnected(EdgePolicy.ConnectedSubnets(c1)); // as GatewayRuntime does (edge hook)
        Neighbors2.SetConnected(EdgePolicy.ConnectedSubnets(c2));
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
        gw.Process(batch, Now);
        gw.Tick(Now);
        var outList = new List<Sent>();
        var rx = new List<Sent>();
        for (int i = 0; i < batch.Count; i++)
        {
            ref Frame f = ref batch[i];
            rx.Add(new Sent(f.OutPort, f.Data.ToArray(), f.Drop));
            if (f.Drop == DropReason.None && f.OutPort != PacketBatch.NoPort) outList.Add(new Sent(f.OutPort, f.Data.ToArray(), f.Drop));
            _pool.Return(f);
        }
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
