using FastTun.Packets.Datapath;
using FastTun.Packets.Tunnels;
using Xunit;
using static FastTun.Packets.Tests.Pipeline.SeedLab;

namespace FastTun.Packets.Tests.Pipeline;

/// <summary>
/// The pipeline's one-entry source-check cache keys on the tunnel only when <see cref="SourceCheck.DependsOnTunnel"/>
/// (strict rp-filter): these tests hold <see cref="SourceCheck.Check"/> to that, over random sources from a fixed seed.
/// </summary>
public sealed class SourceCheckTunnelTests
{
    [Theory]
    [InlineData(RpFilterMode.Loose)]
    [InlineData(RpFilterMode.Off)]
    public void Check_NotStrict_VerdictIndependentOfTunnelAndPort(RpFilterMode mode)
    {
        using var lab = new SeedLab(rpFilter: mode);
        ForwardingState s = lab.State2;
        Assert.False(s.Sources.DependsOnTunnel);
        Tunnel tunnel = s.Tunnels[0].Tunnel;
        var other = new Tunnel(new TunnelSettings("tun9", TunnelMode.Gre, Gw2Wan, 0xAC0C0163, key: 9));
        var routes = s.Routes.GetReader();
        var rng = new Random(15);
        var verdicts = new HashSet<DropReason>();
        for (int i = 0; i < 20_000; i++)
        {
            // Random addresses, and the seed's own and neighbouring ones, where verdicts differ.
            uint source = (i % 4) switch
            {
                0 => (uint)rng.NextInt64(0, 1L << 32),
                1 => 0x0A010800u | (uint)rng.Next(256),
                2 => 0x0A010500u | (uint)rng.Next(256),
                _ => 0xAC0C0100u | (uint)rng.Next(256),
            };
            DropReason fromEth2 = s.Sources.Check(source, Eth2, null, s, in routes, s.NextHops);
            verdicts.Add(fromEth2);
            Assert.Equal(fromEth2, s.Sources.Check(source, Eth1, null, s, in routes, s.NextHops));
            Assert.Equal(fromEth2, s.Sources.Check(source, Eth2, tunnel, s, in routes, s.NextHops));
            Assert.Equal(fromEth2, s.Sources.Check(source, Eth2, other, s, in routes, s.NextHops));
        }
        Assert.Contains(DropReason.None, verdicts);
        Assert.Contains(DropReason.MartianSource, verdicts);
    }

    [Fact]
    public void Check_Strict_VerdictDependsOnTunnel()
    {
        using var lab = new SeedLab(rpFilter: RpFilterMode.Strict);
        ForwardingState s = lab.State2;
        Assert.True(s.Sources.DependsOnTunnel);
        var routes = s.Routes.GetReader();
        var other = new Tunnel(new TunnelSettings("tun9", TunnelMode.Gre, Gw2Wan, 0xAC0C0163, key: 9));
        // server1's LAN routes back into tun0: allowed from tun0, refused from another tunnel.
        Assert.Equal(DropReason.None, s.Sources.Check(Server1, Eth2, s.Tunnels[0].Tunnel, s, in routes, s.NextHops));
        Assert.Equal(DropReason.RpFilter, s.Sources.Check(Server1, Eth2, other, s, in routes, s.NextHops));
    }

    [Theory]
    [InlineData(RpFilterMode.Loose)]
    [InlineData(RpFilterMode.Strict)]
    public void Process_SameInnerSourceFromTwoTunnelsInOneBatch_EachTunnelJudgedAndCounted(RpFilterMode mode)
    {
        // Packets from server1 out of tun0 (its way back) and out of a second tunnel alternate in one batch: loose
        // delivers both (the cached verdict holds across tunnels), strict drops the second tunnel's (it must not).
        using var lab = new SeedLab(rpFilter: mode);
        const uint Spoke = 0xAC0C0163; // 172.12.1.99 on eth2
        var s = lab.State2;
        var second = new Tunnel(new TunnelSettings("tun1", TunnelMode.Ipip, Gw2Wan, Spoke));
        var state = new ForwardingState(s.Routes, s.NextHops, s.Ports, s.Tunnels, new TunnelTable([s.Tunnels[0].Tunnel, second]))
            { Sources = s.Sources };
        var gw = new Packets.Datapath.Pipeline(() => state, lab.Neighbors2);
        var frames = new List<(ushort, byte[])>();
        for (int i = 0; i < 40; i++)
            frames.Add((Eth2, Eth(Gw2Eth2Mac, Gw1Eth2Mac, Ipip(i % 2 == 0 ? Gw1Wan : Spoke, Gw2Wan, Ping(Server1, Server2, seq: (ushort)i)))));
        var (o, rx) = lab.Run(gw, frames.ToArray());
        int expectedDrops = mode == RpFilterMode.Strict ? 20 : 0;
        Assert.Equal(expectedDrops, rx.Count(r => r.Drop == DropReason.RpFilter));
        Assert.Equal(40 - expectedDrops, o.Count(x => x.Port == Eth1));
        Assert.Equal(20, s.Tunnels[0].Tunnel.DecapPackets);
        Assert.Equal(20, second.DecapPackets);
    }

    private static byte[] Ipip(uint outerSource, uint outerDestination, byte[] inner)
    {
        var p = new byte[20 + inner.Length];
        Headers.Ipv4Header.Write(p, 0, (ushort)p.Length, 7, true, 64, Headers.Ipv4Header.ProtocolIpip, outerSource, outerDestination);
        inner.CopyTo(p, 20);
        return p;
    }
}
