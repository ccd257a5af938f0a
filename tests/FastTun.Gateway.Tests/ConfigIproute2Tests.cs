using FastTun.Gateway.Config;
using FastTun.Packets.Headers;

namespace FastTun.Gateway.Tests;

/// <summary>The iproute2 dialect: the tunnel blocks of seeds 000-003, as written, plus the commands of the issue.</summary>
public class ConfigIproute2Tests
{
    /// <summary>
    /// A seed's tunnel block for one side, as written in the article (a copied "$" prompt is the only thing
    /// dropped, and the reader drops it too). <paramref name="side"/> 0 is the first host the article configures.
    /// </summary>
    internal static string SeedTunnelBlock(string seed, int side)
    {
        var lines = File.ReadAllLines(ConfigTestSupport.SeedFile(seed)).Select(l => l.Trim()).ToArray();
        // The configuration commands from the first "ip tunnel add" on (ping, tcpdump and show commands are the
        // article's walk-through); the second "ip tunnel add" starts the other host, except for lines that name
        // the first host's tunnel (seed 002 addresses both tunnels after creating both).
        var config = new System.Text.RegularExpressions.Regex(@"^\$?(ip netns exec \S+ )?ip (tunnel|tun|link|l|addr|address|a|route|r) (add|a|set|s|change|del) ");
        var commands = lines.Where(l => config.IsMatch(l)).ToList();
        int first = commands.FindIndex(l => l.Contains("ip tunnel add ", StringComparison.Ordinal));
        int second = commands.FindIndex(first + 1, l => l.Contains("ip tunnel add ", StringComparison.Ordinal));
        Assert.True(first >= 0 && second > first, $"seed {seed}: two 'ip tunnel add' commands expected");
        string Name(int i) => commands[i].Split("ip tunnel add ")[1].Split(' ')[0];
        string name0 = Name(first), name1 = Name(second);
        bool Names(string line, string name) => line.Split(' ').Contains(name);
        var block = new List<string>();
        for (int i = first; i < commands.Count; i++)
        {
            bool sideZero = i < second ? !(name0 != name1 && Names(commands[i], name1)) : name0 != name1 && Names(commands[i], name0);
            if (sideZero == (side == 0)) block.Add(commands[i]);
        }
        return string.Join('\n', block) + "\n";
    }

    /// <summary>Per seed: the underlay addresses of its two hosts (on eth1 of this test topology, as seed 001 names it).</summary>
    internal static readonly Dictionary<string, (string A, string B, int Length)> Underlays = new()
    {
        ["000"] = ("10.65.132.187", "10.65.132.188", 24),
        ["001"] = ("192.168.40.2", "192.168.40.3", 24),
        ["002"] = ("172.16.16.22", "172.16.1.62", 16),
        ["003"] = ("10.9.29.68", "10.9.142.136", 16),
    };

    /// <summary>A gateway of the two-gateway test topology: LAN on eth2, underlay on eth1, then the seed block.</summary>
    internal static string SeedGateway(string seed, int side, string? driver = null, string extra = "")
    {
        var u = Underlays[seed];
        string own = side == 0 ? u.A : u.B;
        string lan = side == 0 ? "10.1.5.1/24" : "10.1.8.1/24";
        return $"""
            # test topology: LAN on eth2, underlay on eth1
            ip link set eth2 up
            ip addr add {lan} dev eth2
            ip link set eth1 up
            ip addr add {own}/{u.Length} dev eth1
            {(driver is null ? "" : $"# fasttun interface eth1 driver {driver}\n# fasttun interface eth2 driver {driver}")}

            """ + SeedTunnelBlock(seed, side) + extra;
    }

    [Theory]
    [InlineData("000", 0, "tun1", TunnelMode.Ipip, "10.10.100.10 peer 10.10.200.10/32")]
    [InlineData("000", 1, "tun2", TunnelMode.Ipip, "10.10.200.10 peer 10.10.100.10/32")]
    [InlineData("001", 0, "ipiptun", TunnelMode.Ipip, "172.0.0.2 peer 172.0.0.3/32")]
    [InlineData("001", 1, "ipiptun", TunnelMode.Ipip, "172.0.0.3 peer 172.0.0.2/32")]
    [InlineData("002", 0, "tun_a", TunnelMode.Ipip, "")]
    [InlineData("002", 1, "tun_b", TunnelMode.Ipip, "")]
    [InlineData("003", 0, "tun0", TunnelMode.Gre, "192.168.10.1 peer 192.168.10.2/32")]
    [InlineData("003", 1, "tun0", TunnelMode.Gre, "192.168.10.2 peer 192.168.10.1/32")]
    public void Parse_SeedTunnelBlock_BuildsTunnelWithIproute2Defaults(string seed, int side, string name, TunnelMode mode, string address)
    {
        string text = SeedGateway(seed, side);
        Assert.Equal(ConfigFormat.Iproute2, ConfigFormats.Detect(text));
        var config = GatewayConfig.Parse(text, $"seed{seed}.sh", new CapturingLogger());

        var tun = Assert.Single(config.Tunnels);
        var u = Underlays[seed];
        Assert.Equal((name, mode), (tun.Name, tun.Mode));
        Assert.Equal((side == 0 ? u.A : u.B, side == 0 ? u.B : u.A), (Ipv4Address.Format(tun.Local), Ipv4Address.Format(tun.Remote)));
        Assert.Equal("eth1", tun.Underlay);
        Assert.Equal(seed == "001" ? 64 : 0, tun.Ttl); // iproute2's default is inherit; seed 001 says ttl 64
        Assert.Equal(TunnelTos.Fixed(0), tun.Tos);     // iproute2's default tos 0: ECN only
        Assert.True(tun.PathMtuDiscovery);
        Assert.Equal(mode == TunnelMode.Ipip ? 1480 : 1476, tun.Mtu);
        if (address.Length > 0) Assert.Equal(address, Assert.Single(tun.Addresses).ToString());
        else Assert.Equal(side == 0 ? "192.168.1.1/24" : "192.168.1.254/24", Assert.Single(tun.Addresses).ToString());
        Assert.Equal(["eth2", "eth1"], config.Interfaces.Select(i => i.Name));
        Assert.All(config.Interfaces, i => Assert.Equal(PortDriver.AfPacket, i.Driver));
    }

    [Fact]
    public void Parse_Seed001RouteViaOwnTunnelAddress_RoutesIntoTheTunnel()
    {
        var config = GatewayConfig.Parse(SeedGateway("001", 0), "s.sh", new CapturingLogger());
        Assert.Equal("172.0.0.0/24 dev ipiptun", Assert.Single(config.StaticRoutes).ToString());
        Assert.Equal("ipiptun", config.ConnectedRoutes.Single(c => c.Prefix == 0xAC000003).Interface); // the peer, 172.0.0.3/32
    }

    [Fact]
    public void Parse_Seed003RouteWithHostBits_WarnsAndInstallsTheNetwork()
    {
        var config = GatewayConfig.Parse(SeedGateway("003", 0), "s.sh", new CapturingLogger());
        Assert.Equal("192.168.10.0/24 dev tun0", Assert.Single(config.StaticRoutes).ToString());
        Assert.Contains(config.Warnings, w => w.Message.Contains("192.168.10.1/24: host bits are set", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_FullCommandSet_BuildsModel()
    {
        const string script = """
            ip netns exec gw ip link set dev eth2 up
            ip netns exec gw ip a add 172.12.1.10/24 brd + dev eth2
            ip netns exec gw ip link set eth2 mtu 1600
            ip addr add 10.1.5.1/24 dev eth1
            ip tunnel add tun0 mode gre local 172.12.1.10 remote 172.12.1.11 ttl 64 tos inherit key 7 csum seq dev eth2
            ip tunnel change tun0 mode gre local 172.12.1.10 remote 172.12.1.11 ttl inherit tos 0x10 ikey 8 okey 9 icsum oseq nopmtudisc
            ip tunnel add tun1 mode ipip local 172.12.1.10 remote 172.12.1.12
            ip link set tun0 up mtu 1400
            ip link set tun1 up
            ip addr add 1.1.1.1/24 dev tun0
            ip addr add 2.2.2.1/24 dev tun1
            ip tunnel add tun9 mode gre local 172.12.1.10 remote 172.12.1.19 key 5
            ip tunnel change tun9 okey 6
            ip tunnel del tun9
            ip r a 10.1.8.0/24 via 1.1.1.2 dev tun0
            ip route add 10.1.9.0/24 dev tun1 metric 4
            ip route add 10.2.0.0/16 nexthop via 1.1.1.2 dev tun0 nexthop via 2.2.2.2
            ip route add blackhole 10.3.0.0/16
            ip route add default via 172.12.1.1
            ip route add 10.4.0.0/16 via 172.12.1.1
            ip route del 10.4.0.0/16
            # fasttun interface eth2 driver af_xdp
            set fasttun workers 1
            modprobe ip_gre
            ip a
            """;
        var config = GatewayConfig.Parse(script, "t.sh", new CapturingLogger());
        Assert.Equal(["eth2", "eth1"], config.Interfaces.Select(i => i.Name));
        Assert.Equal((1600, true, PortDriver.AfXdp), (config.Interfaces[0].Mtu, config.Interfaces[0].MtuConfigured, config.Interfaces[0].Driver));
        var tun0 = config.FindTunnel("tun0")!;
        Assert.Equal((0, TunnelTos.Fixed(0x10), false), (tun0.Ttl, tun0.Tos, tun0.PathMtuDiscovery));
        Assert.Equal((8u, 9u), (tun0.InputKey!.Value, tun0.OutputKey!.Value));
        Assert.Equal((true, true, true, true), (tun0.InputChecksum, tun0.OutputChecksum, tun0.InputSequence, tun0.OutputSequence)); // change keeps csum seq
        Assert.Equal((1400, true), (tun0.Mtu, tun0.MtuConfigured));
        Assert.Equal([
            "10.1.8.0/24 via 1.1.1.2 dev tun0",
            "10.1.9.0/24 dev tun1",
            "10.2.0.0/16 nexthop via 1.1.1.2 dev tun0 nexthop via 2.2.2.2 dev tun1",
            "blackhole 10.3.0.0/16",
            "0.0.0.0/0 via 172.12.1.1 dev eth2",
        ], config.StaticRoutes.Select(r => r.ToString()));
        Assert.Equal(5, config.StaticRoutes[1].Distance); // metric 4 → distance 5
        Assert.Equal(1, config.Workers);
    }

    [Theory]
    [InlineData("sit")]
    [InlineData("isatap")]
    [InlineData("vti")]
    [InlineData("ip6tnl")]
    [InlineData("ip6gre")]
    public void Parse_UnsupportedTunnelMode_ErrorNamesLineAndSupportedModes(string mode)
    {
        string script = $"ip addr add 172.12.1.10/24 dev eth2\nip tunnel add t6 mode {mode} local 172.12.1.10 remote 172.12.1.11\n";
        var e = Assert.Throws<ConfigException>(() => GatewayConfig.Parse(script, "t.sh", new CapturingLogger()));
        var error = Assert.Single(e.Errors);
        Assert.Equal(2, error.Line);
        Assert.StartsWith("t.sh:2: ", error.ToString(), StringComparison.Ordinal);
        Assert.Contains($"mode '{mode}' is a Linux tunnel mode FastTun does not do; FastTun supports ipip and gre", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ip tunnel add tun0 mode ipip local 172.12.1.10 remote 172.12.1.11\nip tunnel add tun0 mode ipip local 172.12.1.10 remote 172.12.1.12\n", 3, "already exists")]
    [InlineData("ip link add br0 type bridge\n", 2, "ip link add is not supported")]
    [InlineData("ip route add 10.9.0.0/16 via 172.12.1.1 table 5\n", 2, "'table' is not supported")]
    [InlineData("ip route add unreachable 10.9.0.0/16\n", 2, "route type 'unreachable' is not supported")]
    [InlineData("ip route add 10.9.0.0/16 via 172.12.1.1\nip route add 10.9.0.0/16 via 172.12.1.2\n", 3, "already exists")]
    [InlineData("ip link set eth2 down\n", 2, "left down")]
    [InlineData("ping 10.1.8.10\n", 2, "expected an ip command")]
    [InlineData("ip netns exec other ip link set eth2 up\n", 2, "one file describes one gateway")]
    [InlineData("ip route add 10.9.0.0/16 via 172.12.1.1 metric 300\n", 2, "metric must be 0-254")]
    public void Parse_BadScript_ErrorNamesLine(string tail, int line, string fragment)
    {
        string script = "ip netns exec gw ip addr add 172.12.1.10/24 dev eth2\n" + tail;
        var e = Assert.Throws<ConfigException>(() => GatewayConfig.Parse(script, "t.sh", new CapturingLogger(), ConfigFormat.Iproute2));
        Assert.Contains(e.Errors, d => d.Line == line && d.Message.Contains(fragment, StringComparison.Ordinal));
    }
}
