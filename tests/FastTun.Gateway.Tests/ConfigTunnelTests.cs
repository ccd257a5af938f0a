using FastTun.Gateway.Config;
using Microsoft.Extensions.Logging;
using static FastTun.Gateway.Tests.ConfigTestSupport;

namespace FastTun.Gateway.Tests;

/// <summary>Tunnel parameters: GRE options and their MTU, keys, TTL, TOS, PMTU discovery, underlay choice.</summary>
public class ConfigTunnelTests
{
    private static Tunnel Tun(string extra) => Parse(Gw1Gre + extra).Tunnels.Single();

    private static string Options(string options) =>
        string.Concat(options.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(o => $"set interfaces tunnel tun0 parameters ip {o}\n"));

    /// <summary>ip_gre sizes the header from the output flags: 4 bytes each for key, checksum and sequence.</summary>
    [Theory]
    [InlineData("", 1476)]
    [InlineData("key 1", 1472)]
    [InlineData("checksum", 1472)]
    [InlineData("sequence", 1472)]
    [InlineData("key 1,checksum", 1468)]
    [InlineData("key 1,checksum,sequence", 1464)]
    [InlineData("okey 1,output-checksum,output-sequence", 1464)]
    [InlineData("ikey 1,input-checksum,input-sequence", 1476)]
    [InlineData("ikey 1,okey 2,input-checksum,output-sequence", 1468)]
    public void Parse_GreOptions_MtuAsKernel(string options, int mtu)
    {
        var tun = Tun(Options(options));
        Assert.Equal(mtu, tun.Mtu);
        Assert.Equal(1500 - mtu, tun.Overhead);
        Assert.False(tun.MtuConfigured);
    }

    [Fact]
    public void Parse_IpipOverJumboUnderlay_MtuFollowsUnderlay()
    {
        var config = Parse(Gw1Gre.Replace("'gre'", "'ipip'", StringComparison.Ordinal) + "set interfaces ethernet eth2 mtu '9500'\n");
        Assert.Equal(9480, config.Tunnels[0].Mtu);
        Assert.Equal(1580, config.Tunnels[0].MtuFor(1600));
    }

    [Fact]
    public void Parse_ExplicitMtu_Overrides()
    {
        var tun = Tun("set interfaces tunnel tun0 mtu '1400'\n");
        Assert.Equal(1400, tun.Mtu);
        Assert.True(tun.MtuConfigured);
        Assert.Equal(1400, tun.MtuFor(9000));
    }

    [Fact]
    public void Parse_MtuAboveUnderlay_WarnsAndLogs()
    {
        var logger = new CapturingLogger();
        var config = Parse(Gw1Gre + "set interfaces tunnel tun0 mtu '1500'\n", logger);
        Assert.Equal(1500, config.Tunnels[0].Mtu);
        var warning = Assert.Single(config.Warnings);
        Assert.Equal(7, warning.Line);
        Assert.Contains("exceeds the 1476", warning.Message, StringComparison.Ordinal);
        Assert.Contains(logger.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("test.conf:7:", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_KeyForms_SetBothDirections()
    {
        Assert.Equal((42u, 42u), Keys(Tun(Options("key 42"))));
        Assert.Equal((0x01020304u, 0x01020304u), Keys(Tun(Options("key 1.2.3.4"))));
        Assert.Equal((4294967295u, 4294967295u), Keys(Tun(Options("key 4294967295"))));
        Assert.Equal((1u, 2u), Keys(Tun(Options("ikey 1,okey 2"))));
        Assert.Equal((7u, 7u), Keys(Tun(Options("key 7,ikey 7"))));
        Assert.Equal((3u, (uint?)null), Keys(Tun(Options("ikey 3"))));
        static (uint?, uint?) Keys(Tunnel t) => (t.InputKey, t.OutputKey);
    }

    [Fact]
    public void Parse_KeyConflictsWithIkey_Error() =>
        SingleError(Gw1Gre + Options("key 7,ikey 8"), 8, "conflicts with key 7");

    [Fact]
    public void Parse_KeyOutOfRange_Error() =>
        SingleError(Gw1Gre + Options("key 4294967296"), 7, "key must be 0-4294967295");

    [Fact]
    public void Parse_ChecksumAndSequenceFlags_SetDirections()
    {
        var both = Tun(Options("checksum,sequence"));
        Assert.True(both.InputChecksum && both.OutputChecksum && both.InputSequence && both.OutputSequence);
        var some = Tun(Options("input-checksum,output-sequence"));
        Assert.Equal((true, false, false, true), (some.InputChecksum, some.OutputChecksum, some.InputSequence, some.OutputSequence));
    }

    [Fact]
    public void Parse_Defaults_AreVyos12()
    {
        var tun = Tun("");
        Assert.Equal(255, tun.Ttl);
        Assert.Equal(TunnelTos.Inherited, tun.Tos);
        Assert.True(tun.PathMtuDiscovery);
        Assert.False(tun.Multicast);
    }

    [Theory]
    [InlineData("ttl 64", 64)]
    [InlineData("ttl 0", 0)]
    [InlineData("ttl inherit", 0)]
    public void Parse_Ttl_Value(string option, int ttl) => Assert.Equal(ttl, Tun(Options(option)).Ttl);

    [Theory]
    [InlineData("tos inherit", true, 0)]
    [InlineData("tos 0", false, 0)]
    [InlineData("tos b8", false, 0xb8)]
    [InlineData("tos 10", false, 0x10)]
    [InlineData("tos 0a", false, 0x0a)]
    public void Parse_Tos_ReadAsHexLikeIpTunnel(string option, bool inherit, int value) =>
        Assert.Equal(new TunnelTos(inherit, (byte)value), Tun(Options(option)).Tos);

    [Fact]
    public void Parse_TosWithLowBitSet_WarnsAndInherits()
    {
        var config = Parse(Gw1Gre + Options("tos 1"));
        Assert.True(config.Tunnels[0].Tos.Inherit);
        Assert.Contains("reads as 'inherit'", Assert.Single(config.Warnings).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_MulticastEnable_Warns()
    {
        var config = Parse(Gw1Gre + "set interfaces tunnel tun0 multicast 'enable'\n");
        Assert.True(config.Tunnels[0].Multicast);
        Assert.Contains("unicast only", Assert.Single(config.Warnings).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_LocalIpNotOwn_WarnsLikeVyos()
    {
        var config = Parse(Gw1Gre.Replace("local-ip '172.12.1.10'", "local-ip '172.12.1.99'", StringComparison.Ordinal));
        Assert.Equal(0xAC0C0163u, config.Tunnels[0].Local);
        var warning = Assert.Single(config.Warnings);
        Assert.Equal(5, warning.Line);
        Assert.Contains("not an address of any ethernet interface", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_RemoteBehindStaticRoute_UnderlayNextHopIsRouteNextHop()
    {
        string text = Gw1Gre.Replace("remote-ip '172.12.1.11'", "remote-ip '198.51.100.7'", StringComparison.Ordinal)
            + "set protocols static route 198.51.100.0/24 next-hop 172.12.1.1\n";
        var tun = Parse(text).Tunnels[0];
        Assert.Equal("eth2", tun.Underlay);
        Assert.Equal(0xAC0C0101u, tun.UnderlayNextHop);
    }

    [Fact]
    public void Parse_RouteDistances_LowestInstalledOthersWarned()
    {
        var config = Parse(Gw1Gre + """
            set protocols static route 10.1.8.0/24 next-hop 1.1.1.3 distance '20'
            set protocols static route 10.1.8.0/24 next-hop 1.1.1.2 distance '5'

            """);
        var route = Assert.Single(config.StaticRoutes);
        Assert.Equal(("10.1.8.0/24 via 1.1.1.2 dev tun0", 5), (route.ToString(), route.Distance));
        Assert.Contains("1.1.1.3 (distance 20) is not installed", Assert.Single(config.Warnings).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_FastTunLines_FillModel()
    {
        var config = Parse(Gw1Gre + """
            set fasttun interface eth1 driver 'af_xdp'
            set fasttun interface eth1 queues '4'
            set fasttun workers '3'
            set fasttun control-socket '/run/fasttun/gw1.sock'
            set fasttun neighbor 10.1.5.10 mac 'AA:C1:AB:52:61:07'
            set fasttun neighbor 172.12.1.11 mac '02:00:00:00:00:02'
            set fasttun neighbor 172.12.1.11 interface 'eth2'
            set interfaces ethernet eth1 hw-id 'aa:c1:ab:32:5c:7c'
            set interfaces ethernet eth1 description 'LAN to server1'

            """);
        var eth1 = config.FindInterface("eth1")!;
        var eth2 = config.FindInterface("eth2")!;
        Assert.Equal((PortDriver.AfXdp, 4, PortDriver.AfPacket, 1), (eth1.Driver, eth1.Queues, eth2.Driver, eth2.Queues));
        Assert.Equal(0xaac1ab325c7cUL, eth1.HwId);
        Assert.Equal("LAN to server1", eth1.Description);
        Assert.Equal(3, config.Workers);
        Assert.Equal("/run/fasttun/gw1.sock", config.ControlSocket);
        Assert.Equal(2, config.Neighbors.Length);
        Assert.Equal(("eth1", "aa:c1:ab:52:61:07"), (config.Neighbors[0].Interface, StaticNeighbor.FormatMac(config.Neighbors[0].Mac)));
        Assert.Equal("eth2", config.Neighbors[1].Interface);
        Assert.NotNull(config.FindTunnel("tun0"));
        Assert.Null(config.FindTunnel("tun1"));
    }
}
