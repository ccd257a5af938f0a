using FastTun.Gateway.Config;
using static FastTun.Gateway.Tests.ConfigTestSupport;

namespace FastTun.Gateway.Tests;

/// <summary>Every kind of error names its file and line.</summary>
public class ConfigErrorTests
{
    private const string Ipip = """
        set interfaces ethernet eth2 address '172.12.1.10/24'
        set interfaces tunnel tun0 address '1.1.1.1/24'
        set interfaces tunnel tun0 encapsulation 'ipip'
        set interfaces tunnel tun0 local-ip '172.12.1.10'
        set interfaces tunnel tun0 remote-ip '172.12.1.11'

        """;

    [Fact]
    public void Parse_KeyOnIpipTunnel_ErrorNamesKeyLine() =>
        SingleError(Ipip + "set interfaces tunnel tun0 parameters ip key '42'\n", 6, "key is only valid for GRE");

    [Theory]
    [InlineData("ikey 1")]
    [InlineData("okey 1")]
    [InlineData("checksum")]
    [InlineData("input-sequence")]
    public void Parse_GreOptionOnIpipTunnel_Error(string option) =>
        SingleError(Ipip + $"set interfaces tunnel tun0 parameters ip {option}\n", 6, "only valid for GRE");

    [Fact]
    public void Parse_MissingLocalIp_ErrorNamesTunnelLine() =>
        SingleError(Ipip.Replace("set interfaces tunnel tun0 local-ip '172.12.1.10'\n", "", StringComparison.Ordinal), 2, "must configure the tunnel local-ip");

    [Fact]
    public void Parse_MissingRemoteIp_Error() =>
        SingleError(Ipip.Replace("set interfaces tunnel tun0 remote-ip '172.12.1.11'\n", "", StringComparison.Ordinal), 2, "must configure the tunnel remote-ip");

    [Fact]
    public void Parse_MissingEncapsulation_Error() =>
        SingleError(Ipip.Replace("set interfaces tunnel tun0 encapsulation 'ipip'\n", "", StringComparison.Ordinal), 2, "must configure the tunnel encapsulation");

    [Fact]
    public void Parse_SecondDifferentEncapsulation_Error() =>
        SingleError(Ipip + "set interfaces tunnel tun0 encapsulation 'gre'\n", 6, "one encapsulation per tunnel");

    [Fact]
    public void Parse_RepeatedIdenticalLine_IsAccepted() =>
        Assert.Single(Parse(Ipip + "set interfaces tunnel tun0 encapsulation ipip\nset interfaces tunnel tun0 address 1.1.1.1/24\n").Tunnels[0].Addresses);

    [Fact]
    public void Parse_UnsupportedEncapsulation_Error() =>
        SingleError(Ipip.Replace("'ipip'", "'sit'", StringComparison.Ordinal), 3, "encapsulation 'sit' is not supported");

    [Theory]
    [InlineData("set interfaces bonding bond0 address '10.0.0.1/24'")]
    [InlineData("set interfaces ethernet eth2 vif 10 address '10.0.0.1/24'")]
    [InlineData("set service ssh port '22'")]
    [InlineData("set interfaces tunnel tun0 parameters ip bridge-group bridge br0")]
    [InlineData("set protocols static route 10.9.0.0/16 dhcp-interface eth1")]
    [InlineData("set fasttun frobnicate 1")]
    [InlineData("set interfaces loopback lo address '10.255.0.1/32'")]
    [InlineData("set system")]
    public void Parse_UnknownLine_ErrorNamesLineNumberAndText(string line)
    {
        var error = SingleError(Ipip + line + "\n", 6, line);
        Assert.Contains("unknown or unsupported", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_NotASetCommand_Error() =>
        SingleError(Ipip + "delete interfaces tunnel tun0\n", 6, "expected a 'set' command");

    [Theory]
    [InlineData("set interfaces ethernet eth1 address '10.1.5.1/33'", "not an IPv4 address with prefix length")]
    [InlineData("set interfaces ethernet eth1 address '10.1.5.256/24'", "not an IPv4 address with prefix length")]
    [InlineData("set interfaces ethernet eth1 address 'dhcp'", "static IPv4 addresses only")]
    [InlineData("set interfaces ethernet eth1 address '10.1.5.0/24'", "network address")]
    [InlineData("set interfaces ethernet eth1 address '10.1.5.255/24'", "broadcast address")]
    [InlineData("set interfaces ethernet eth1 address '127.0.0.2/8'", "not a usable unicast address")]
    [InlineData("set interfaces ethernet eth1 address '172.12.1.10/24'", "already on eth2")]
    [InlineData("set interfaces ethernet eth1 address '172.12.1.20/24'", "already connected on eth2")]
    [InlineData("set interfaces ethernet eth1 mtu '67'", "mtu must be a number from 68")]
    [InlineData("set interfaces ethernet eth1 hw-id 'aa:bb:cc'", "not a MAC address")]
    [InlineData("set interfaces ethernet eth1/x address '10.1.5.1/24'", "not a valid interface name")]
    [InlineData("set interfaces tunnel tun/0 address '10.1.5.1/24'", "not a valid tunnel name")]
    [InlineData("set interfaces tunnel tun0 parameters ip ttl '256'", "ttl must be a number from 0 to 255")]
    [InlineData("set interfaces tunnel tun0 parameters ip tos '100'", "tos must be 'inherit' or 00-ff")]
    [InlineData("set interfaces tunnel tun0 multicast 'on'", "multicast must be")]
    [InlineData("set interfaces tunnel tun0 mtu '8'", "mtu must be a number from 68")]
    [InlineData("set interfaces tunnel tun0 mtu '65516'", "mtu 65516 is outside 68..65515")]
    [InlineData("set interfaces tunnel tun0 remote-ip '10.9.9.9'", "conflicting values for tunnel tun0 remote-ip")]
    [InlineData("set interfaces tunnel tun0 local-ip '172.12.1.300'", "local-ip '172.12.1.300' is not an IPv4 address")]
    [InlineData("set fasttun interface eth2 driver 'dpdk'", "driver must be 'af_xdp' or 'af_packet'")]
    [InlineData("set fasttun interface eth9 driver 'af_xdp'", "there is no 'interfaces ethernet eth9'")]
    [InlineData("set fasttun interface eth2 queues '0'", "queues must be a number from 1 to 64")]
    [InlineData("set fasttun workers '0'", "workers must be a number from 1 to 1024")]
    [InlineData("set fasttun neighbor 172.12.1.11 interface eth2", "mac is required")]
    [InlineData("set fasttun neighbor 172.12.1.11 mac 'ff:ff:ff:ff:ff:ff'", "not a unicast MAC")]
    [InlineData("set fasttun neighbor 10.7.7.7 mac '02:00:00:00:00:01'", "is on no ethernet interface's subnet")]
    [InlineData("set fasttun neighbor 1.1.1.2 mac '02:00:00:00:00:01'", "is on no ethernet interface's subnet")]
    [InlineData("set fasttun neighbor 172.12.1.11 mac '02:00:00:00:00:01'\nset fasttun neighbor 172.12.1.11 interface 'tun0'", "is a tunnel")]
    [InlineData("set interfaces tunnel tun0 parameters ip pmtu-discovery 'disable'", "needs parameters ip ttl inherit")]
    [InlineData("set interfaces tunnel tun0 description 'a' # then\nset interfaces tunnel tun0 description 'b'", "conflicting values")]
    [InlineData("set interfaces ethernet eth2 description 'unterminated", "unterminated single quote")]
    public void Parse_BadLine_SingleErrorOnThatLine(string lines, string fragment)
    {
        int line = 6 + lines.Count(c => c == '\n');
        SingleError(Ipip + lines + "\n", line, fragment);
    }

    [Fact]
    public void Parse_NoPmtuDiscoveryWithTtlInherit_IsAccepted()
    {
        var tun = Parse(Ipip + "set interfaces tunnel tun0 parameters ip pmtu-discovery disable\nset interfaces tunnel tun0 parameters ip ttl inherit\n").Tunnels[0];
        Assert.False(tun.PathMtuDiscovery);
        Assert.Equal(0, tun.Ttl);
    }

    [Fact]
    public void Parse_RouteNextHopNotConnected_ErrorNamesRouteLine() =>
        SingleError(Ipip + "set protocols static route 10.1.8.0/24 next-hop 9.9.9.9\n", 6, "next-hop 9.9.9.9 is not on any connected subnet");

    [Fact]
    public void Parse_RouteNextHopIsOwnAddress_Error() =>
        SingleError(Ipip + "set protocols static route 10.1.8.0/24 next-hop 1.1.1.1\n", 6, "own addresses");

    [Fact]
    public void Parse_RouteWithHostBits_ErrorSuggestsPrefix() =>
        SingleError(Ipip + "set protocols static route 10.1.8.1/24 next-hop 1.1.1.2\n", 6, "did you mean 10.1.8.0/24");

    [Fact]
    public void Parse_RouteWithoutNextHop_Error() =>
        SingleError(Ipip + "set protocols static route 10.1.8.0/24\n", 6, "has no next-hop");

    [Fact]
    public void Parse_BlackholeSharesDistanceWithNextHop_Error() =>
        SingleError(Ipip + "set protocols static route 10.1.8.0/24 next-hop 1.1.1.2\nset protocols static route 10.1.8.0/24 blackhole\n", 7, "same distance 1");

    [Fact]
    public void Parse_RemoteIpUnreachable_Error() =>
        SingleError(Ipip.Replace("remote-ip '172.12.1.11'", "remote-ip '192.0.2.1'", StringComparison.Ordinal), 5, "is not reachable");

    [Fact]
    public void Parse_RemoteIpRoutedThroughTunnel_Error() =>
        SingleError(Ipip.Replace("remote-ip '172.12.1.11'", "remote-ip '1.1.1.2'", StringComparison.Ordinal), 5, "routed through tunnel tun0");

    [Fact]
    public void Parse_TwoTunnelsSameEndpoints_Error()
    {
        string second = Ipip.Replace("tun0", "tun1", StringComparison.Ordinal).Replace("1.1.1.1/24", "2.2.2.1/24", StringComparison.Ordinal)
            .Replace("set interfaces ethernet eth2 address '172.12.1.10/24'\n", "", StringComparison.Ordinal);
        SingleError(Ipip + second, 6, "tun0 already has the same encapsulation, local-ip, remote-ip and key");
    }

    [Fact]
    public void Parse_ManyErrors_AllReportedInLineOrder()
    {
        const string text = """
            set interfaces ethernet eth2 address '172.12.1.10/24'
            set interfaces tunnel tun0 encapsulation 'ipip'
            set interfaces tunnel tun0 parameters ip key '5'
            set bogus
            set interfaces tunnel tun0 remote-ip '172.12.1.11'
            set protocols static route 10.9.0.0/16 next-hop 9.9.9.9
            set interfaces ethernet eth1 address '10.1.5.1/40'

            """;
        var errors = Errors(text);
        Assert.Equal([2, 3, 4, 6, 7], errors.Select(e => e.Line));
        var e = Assert.Throws<ConfigException>(() => Parse(text));
        Assert.Contains("5 configuration errors", e.Message, StringComparison.Ordinal);
        Assert.Contains("test.conf:4: unknown or unsupported configuration line: set bogus", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MissingFile_ThrowsFileNotFound() =>
        Assert.Throws<FileNotFoundException>(() => GatewayConfig.Load(Path.Combine(Path.GetTempPath(), $"fasttun-absent-{Guid.NewGuid():N}.conf"), new CapturingLogger()));
}
