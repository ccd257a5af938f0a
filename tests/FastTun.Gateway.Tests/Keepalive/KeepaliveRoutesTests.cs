using FastTun.Gateway.Dataplane;
using FastTun.Packets.Datapath;
using static FastTun.Gateway.Tests.ConfigTestSupport;

namespace FastTun.Gateway.Tests.Keepalive;

/// <summary>Route withdrawal while keepalive holds a tunnel down, against a slow oracle: the candidates of each
/// prefix filtered by hand.</summary>
public class KeepaliveRoutesTests
{
    private static readonly PortFacts[] Ports = [new("eth1", 0x020000000001, 1500), new("eth2", 0x020000000002, 1500)];

    private const string TwoTunnels = Gw1Gre + """
        set interfaces tunnel tun0 parameters keepalive 1 3

        """ + Gw1Tun1Ipip + """
        set protocols static route 10.1.8.0/24 next-hop 1.1.1.2
        set protocols static route 10.1.8.0/24 next-hop 1.1.2.2 distance '10'
        set protocols static route 10.1.8.0/24 blackhole distance '20'
        set protocols static route 10.9.0.0/16 next-hop 1.1.1.2
        set protocols static route 10.7.0.0/16 next-hop 1.1.1.2
        set protocols static route 10.7.0.0/16 next-hop 1.1.2.2
        set protocols static route 0.0.0.0/0 next-hop 172.12.1.1 distance '5'

        """;

    private static NextHop Lookup(ForwardingState s, string address)
    {
        uint a = FastTun.Packets.Headers.Ipv4Address.Parse(address);
        uint i = s.Routes.GetReader().Lookup(a);
        return s.NextHops[i];
    }

    [Fact]
    public void Build_TunnelDown_PrimaryWithdrawnBackupInstalled()
    {
        var config = Parse(TwoTunnels);
        var up = StateBuilder.Build(config, Ports, null, out _);
        Assert.Equal(NextHop.Into(0), Lookup(up, "10.1.8.10"));
        Assert.Equal(NextHop.Into(0), Lookup(up, "1.1.1.2"));

        var down = StateBuilder.Build(config, Ports, null, out var installed, new HashSet<string> { "tun0" });
        Assert.Equal(NextHop.Into(1), Lookup(down, "10.1.8.10")); // distance 10 via tun1 takes over
        Assert.Equal(NextHop.Via(1, 0xAC0C0101), Lookup(down, "10.9.0.1")); // no backup: the default route
        Assert.Equal(NextHop.Via(1, 0xAC0C0101), Lookup(down, "1.1.1.2")); // tun0's connected subnet withdrawn
        Assert.Equal(NextHop.Into(1), Lookup(down, "10.7.0.1")); // ECMP loses the down member
        Assert.Equal(NextHopKind.Local, Lookup(down, "1.1.1.1").Kind); // its own address stays
        Assert.DoesNotContain(installed, r => r.Hop == NextHop.Into(0));
    }

    [Fact]
    public void Build_BothTunnelsDown_FallsToBlackholeStandby()
    {
        var down = StateBuilder.Build(Parse(TwoTunnels), Ports, null, out _, new HashSet<string> { "tun0", "tun1" });
        Assert.Equal(NextHopKind.Blackhole, Lookup(down, "10.1.8.10").Kind);
    }

    [Fact]
    public void InstalledStatic_RandomDownSets_MatchesOracle()
    {
        var config = Parse(TwoTunnels);
        var rng = new Random(15);
        string[] names = ["tun0", "tun1", "eth2"];
        for (int round = 0; round < 50; round++)
        {
            var down = names.Where(_ => rng.Next(2) == 0).ToHashSet();
            var fast = StateBuilder.InstalledStatic(config, down).ToList();
            // Oracle: for each prefix, every candidate of every distance, lowest distance with a usable path first.
            var oracle = new List<FastTun.Gateway.Config.StaticRoute>();
            foreach (var group in config.StaticRoutes.Concat(config.StandbyRoutes).GroupBy(r => (r.Prefix, r.PrefixLength)))
            {
                foreach (var r in group.OrderBy(r => r.Distance))
                {
                    if (r.Blackhole) { oracle.Add(r); break; }
                    var paths = r.Paths.Where(p => !down.Contains(p.Interface)).ToArray();
                    if (paths.Length == 0) continue;
                    oracle.Add(r with { Paths = [.. paths] });
                    break;
                }
            }
            Assert.Equal(oracle.OrderBy(r => r.Prefix).ThenBy(r => r.PrefixLength), fast.OrderBy(r => r.Prefix).ThenBy(r => r.PrefixLength));
        }
    }
}
