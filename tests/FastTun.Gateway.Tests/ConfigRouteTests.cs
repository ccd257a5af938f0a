using System.Buffers.Binary;
using FastTun.Gateway.Config;
using FastTun.Gateway.Dataplane;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastTun.Gateway.Tests;

/// <summary>Routes like a router's: interface-route, blackhole, distance and ECMP, from the configuration to the wire.</summary>
public class ConfigRouteTests
{
    private const ulong Gw1Eth1Mac = 0x020000000101, Gw1Eth2Mac = 0x020000000102, Server1Mac = 0xaac1ab526107;
    private const ulong Peer11Mac = 0x020000000211, Peer12Mac = 0x020000000212;

    /// <summary>gw1 with two IPIP tunnels to two peers; lines 1-10, appended lines start at 11.</summary>
    private const string TwoTunnels = """
        set interfaces ethernet eth1 address '10.1.5.1/24'
        set interfaces ethernet eth2 address '172.12.1.10/24'
        set interfaces tunnel tun0 address '1.1.1.1/24'
        set interfaces tunnel tun0 encapsulation 'ipip'
        set interfaces tunnel tun0 local-ip '172.12.1.10'
        set interfaces tunnel tun0 remote-ip '172.12.1.11'
        set interfaces tunnel tun1 address '2.2.2.1/24'
        set interfaces tunnel tun1 encapsulation 'ipip'
        set interfaces tunnel tun1 local-ip '172.12.1.10'
        set interfaces tunnel tun1 remote-ip '172.12.1.12'

        """;

    private const string Ecmp = TwoTunnels + """
        set protocols static route 10.1.8.0/24 next-hop 1.1.1.2
        set protocols static route 10.1.8.0/24 next-hop 2.2.2.2
        set protocols static route 10.1.8.0/24 next-hop 172.12.1.1 distance '10'
        set protocols static interface-route 10.1.9.0/24 next-hop-interface tun1
        set protocols static route 10.9.0.0/16 blackhole
        set protocols static route 10.9.0.0/16 next-hop 1.1.1.2 distance '20'
        """;

    [Fact]
    public void Validate_EqualDistanceNextHops_InstallsEcmpAndWarnsAboutBackup()
    {
        var config = ConfigTestSupport.Parse(Ecmp);
        Assert.Equal([
            "10.1.8.0/24 nexthop via 1.1.1.2 dev tun0 nexthop via 2.2.2.2 dev tun1",
            "10.1.9.0/24 dev tun1",
            "blackhole 10.9.0.0/16",
        ], config.StaticRoutes.Select(r => r.ToString()));
        Assert.Contains(config.Warnings, w => w.Line == 13 && w.Message.Contains("next-hop 172.12.1.1 (distance 10) is not installed", StringComparison.Ordinal));
        Assert.Contains(config.Warnings, w => w.Line == 16 && w.Message.Contains("next-hop 1.1.1.2 (distance 20) is not installed", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("set protocols static interface-route 10.7.0.0/16 next-hop-interface tun7\n", 11, "neither an ethernet interface nor a tunnel")]
    [InlineData("set protocols static route 10.7.0.0/16 blackhole distance '0'\n", 11, "distance must be a number from 1 to 255")]
    [InlineData("set protocols static route 172.12.1.12/32 next-hop 172.12.1.1\nset protocols static route 172.12.1.12/32 next-hop 172.12.1.2\n", 10, "the underlay must be one path")]
    [InlineData("set protocols static route 172.12.1.12/32 blackhole\n", 10, "the underlay must be one path")]
    public void Validate_BadRoute_Error(string lines, int line, string fragment) =>
        ConfigTestSupport.SingleError(TwoTunnels + lines, line, fragment);

    private sealed class Gateway : IDisposable
    {
        public Gateway(string config)
        {
            var c = GatewayConfig.Parse(config, "gw1", NullLogger.Instance);
            State = StateBuilder.Build(c, [new PortFacts("eth1", Gw1Eth1Mac, 1500), new PortFacts("eth2", Gw1Eth2Mac, 1500)]);
            var neighbors = new NeighborTable();
            neighbors.AddStatic(0, 0x0A01050A, Server1Mac, 0);
            neighbors.AddStatic(1, 0xAC0C010B, Peer11Mac, 0);
            neighbors.AddStatic(1, 0xAC0C010C, Peer12Mac, 0);
            Pipeline = new Packets.Datapath.Pipeline(() => State, neighbors);
        }

        public ForwardingState State { get; }
        public Packets.Datapath.Pipeline Pipeline { get; }
        private readonly FramePool _pool = new(256, 2048);

        /// <summary>Sends frames in from server1 on eth1; returns, per frame, (drop, outer destination or 0, out port).</summary>
        public List<(DropReason Drop, uint OuterDst, ushort Port)> Send(IEnumerable<byte[]> packets)
        {
            var batch = new PacketBatch(64);
            foreach (var ip in packets)
            {
                ref Frame f = ref batch.Add();
                Assert.True(_pool.TryRent(ref f));
                var frame = new byte[14 + ip.Length];
                NeighborEntry.WriteMac(Gw1Eth1Mac, frame);
                NeighborEntry.WriteMac(Server1Mac, frame.AsSpan(6));
                frame[12] = 0x08;
                ip.CopyTo(frame, 14);
                f.Length = frame.Length;
                frame.CopyTo(f.Data);
                f.InPort = 0;
            }
            Pipeline.Process(batch, 1000);
            var result = new List<(DropReason, uint, ushort)>();
            for (int i = 0; i < batch.Count; i++)
            {
                ref Frame f = ref batch[i];
                var d = f.Data;
                bool ipip = f.Drop == DropReason.None && f.OutPort != PacketBatch.NoPort && d.Length > 34 && d[14 + 9] == 4;
                result.Add((f.Drop, ipip ? BinaryPrimitives.ReadUInt32BigEndian(d.Slice(14 + 16)) : 0, f.OutPort));
                _pool.Return(f);
            }
            Pipeline.ReleaseGenerated();
            return result;
        }

        public void Dispose() => Pipeline.Dispose();
    }

    private static byte[] Udp(uint src, uint dst, ushort srcPort, ushort dstPort)
    {
        var p = new byte[20 + 8 + 16];
        Ipv4Header.Write(p, 0, (ushort)p.Length, 0x1111, true, 64, Ipv4Header.ProtocolUdp, src, dst);
        UdpHeader.Write(p.AsSpan(20), srcPort, dstPort, src, dst);
        return p;
    }

    [Fact]
    public void Forward_EcmpOverTwoTunnels_ManyFlows_BothPathsUsedNoFlowSplit()
    {
        using var gw = new Gateway(Ecmp);
        var group = Assert.Single(gw.State.Multipath);
        Assert.Equal([NextHop.Into(0), NextHop.Into(1)], group);

        // 600 flows (source address and ports vary), each sent 5 times, the rounds interleaved in batches of 60.
        var flows = Enumerable.Range(0, 600)
            .Select(i => (Src: 0x0A010500u + 10 + (uint)(i % 7), Dst: 0x0A010800u + 10 + (uint)(i % 3), SrcPort: (ushort)(20000 + i), DstPort: (ushort)(i % 2 == 0 ? 443 : 53)))
            .ToArray();
        var seen = new Dictionary<int, HashSet<uint>>();
        for (int round = 0; round < 5; round++)
        {
            var order = Enumerable.Range(0, flows.Length).OrderBy(i => (i * 7919 + round * 104729) % flows.Length).ToArray();
            foreach (var chunk in order.Chunk(60))
            {
                var results = gw.Send(chunk.Select(i => Udp(flows[i].Src, flows[i].Dst, flows[i].SrcPort, flows[i].DstPort)));
                for (int k = 0; k < chunk.Length; k++)
                {
                    var (drop, outer, port) = results[k];
                    Assert.Equal((DropReason.None, (ushort)1), (drop, port));
                    Assert.True(outer is 0xAC0C010B or 0xAC0C010C, $"outer destination {Ipv4Address.Format(outer)}");
                    if (!seen.TryGetValue(chunk[k], out var set)) seen[chunk[k]] = set = [];
                    set.Add(outer);
                }
            }
        }
        Assert.All(seen.Values, paths => Assert.Single(paths)); // no flow split over the two tunnels
        int viaTun0 = seen.Values.Count(p => p.Contains(0xAC0C010B));
        Assert.InRange(viaTun0, 600 * 35 / 100, 600 * 65 / 100); // both paths carry a fair share
    }

    [Fact]
    public void Forward_InterfaceRouteAndBlackhole_IntoTheTunnelAndSilentDrop()
    {
        using var gw = new Gateway(Ecmp);
        var results = gw.Send([Udp(0x0A01050A, 0x0A010905, 1000, 2000), Udp(0x0A01050A, 0x0A090001, 1000, 2000)]);
        Assert.Equal((DropReason.None, 0xAC0C010Cu, (ushort)1), results[0]); // 10.1.9.0/24 next-hop-interface tun1
        Assert.Equal(DropReason.Blackhole, results[1].Drop);                 // 10.9.0.0/16 blackhole
        Assert.Equal(0, gw.Pipeline.Counters.IcmpSent);                      // silent, as the kernel's blackhole
    }
}
