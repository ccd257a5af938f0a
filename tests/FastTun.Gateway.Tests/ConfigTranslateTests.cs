using FastTun.Gateway.Config;

namespace FastTun.Gateway.Tests;

/// <summary>fasttun config show: every format prints a configuration that loads back into the same model.</summary>
public class ConfigTranslateTests
{
    /// <summary>Everything the model can hold, in set lines.</summary>
    private const string Everything = """
        set interfaces ethernet eth1 address '10.1.5.1/24'
        set interfaces ethernet eth1 address '10.1.6.1/24'
        set interfaces ethernet eth1 description 'LAN side, "quoted" and it'\''s'
        set interfaces ethernet eth2 address '172.12.1.10/24'
        set interfaces ethernet eth2 hw-id '02:00:00:00:01:02'
        set interfaces ethernet eth2 mtu '1600'
        set interfaces ethernet eth3
        set interfaces tunnel tun0 address '1.1.1.1/24'
        set interfaces tunnel tun0 encapsulation 'gre'
        set interfaces tunnel tun0 local-ip '172.12.1.10'
        set interfaces tunnel tun0 remote-ip '172.12.1.11'
        set interfaces tunnel tun0 mtu '1400'
        set interfaces tunnel tun0 description 'to gw2'
        set interfaces tunnel tun0 parameters ip ttl '64'
        set interfaces tunnel tun0 parameters ip tos '10'
        set interfaces tunnel tun0 parameters ip ikey '8'
        set interfaces tunnel tun0 parameters ip okey '9'
        set interfaces tunnel tun0 parameters ip input-checksum
        set interfaces tunnel tun0 parameters ip sequence
        set interfaces tunnel tun1 address '2.2.2.1' peer '2.2.2.2/32'
        set interfaces tunnel tun1 encapsulation 'ipip'
        set interfaces tunnel tun1 local-ip '172.12.1.10'
        set interfaces tunnel tun1 remote-ip '172.12.1.12'
        set interfaces tunnel tun1 multicast 'enable'
        set interfaces tunnel tun1 parameters ip ttl 'inherit'
        set interfaces tunnel tun1 parameters ip pmtu-discovery 'disable'
        set interfaces tunnel ipiptun address '3.3.3.1/30'
        set interfaces tunnel ipiptun encapsulation 'gre'
        set interfaces tunnel ipiptun local-ip '172.12.1.10'
        set interfaces tunnel ipiptun remote-ip '172.12.1.13'
        set interfaces tunnel ipiptun parameters ip key '7'
        set interfaces tunnel ipiptun parameters ip tos 'inherit'
        set protocols static route 10.1.8.0/24 next-hop 1.1.1.2
        set protocols static route 10.2.0.0/16 next-hop 1.1.1.2 distance '3'
        set protocols static route 10.2.0.0/16 next-hop 2.2.2.2 distance '3'
        set protocols static interface-route 10.2.0.0/16 next-hop-interface ipiptun distance '3'
        set protocols static route 10.3.0.0/16 blackhole distance '7'
        set protocols static interface-route 10.4.0.0/16 next-hop-interface eth1
        set protocols static route 0.0.0.0/0 next-hop 172.12.1.1
        set fasttun interface eth1 driver 'af_xdp'
        set fasttun interface eth1 queues '2'
        set fasttun interface eth2 driver 'af_xdp'
        set fasttun interface eth2 queues '2'
        set fasttun interface eth3 queues '2'
        set fasttun workers '2'
        set fasttun control-socket '/run/fasttun/test sock'
        set fasttun neighbor 10.1.5.10 mac 'aa:c1:ab:52:61:07'
        set fasttun neighbor 172.12.1.11 mac '02:00:00:00:02:02'
        set fasttun neighbor 172.12.1.11 interface eth2
        """;

    public static TheoryData<string, ConfigFormat> Cases()
    {
        var data = new TheoryData<string, ConfigFormat>();
        foreach (var f in new[] { ConfigFormat.Set, ConfigFormat.Boot, ConfigFormat.Iproute2 })
        {
            data.Add("everything", f);
            foreach (string file in new[] { "gw1-ipip.conf", "gw2-gre.conf", "gw1-gre-opts.conf" }) data.Add(file, f);
            data.Add("seed004-gw1.boot", f);
            data.Add("seed001-0.sh", f);
            data.Add("seed002-1.sh", f);
            data.Add("seed003-0.sh", f);
        }
        return data;
    }

    private static GatewayConfig Load(string name) => name switch
    {
        "everything" => GatewayConfig.Parse(Everything, name, new CapturingLogger()),
        "seed004-gw1.boot" => GatewayConfig.Parse(ConfigBootTests.SeedBootBlock(0), name, new CapturingLogger()),
        _ when name.StartsWith("seed", StringComparison.Ordinal) =>
            GatewayConfig.Parse(ConfigIproute2Tests.SeedGateway(name[4..7], name[8] - '0', "af_xdp"), name, new CapturingLogger()),
        _ => GatewayConfig.Load(ConfigTestSupport.ConfigFile(name), new CapturingLogger()),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Print_ThenParse_SameModel(string name, ConfigFormat format)
    {
        var original = Load(name);
        string text = ConfigPrinter.Print(original, format);

        Assert.Equal(format, ConfigFormats.Detect(text));
        var back = GatewayConfig.Parse(text, $"{name}.{ConfigFormats.Name(format)}", new CapturingLogger());
        ConfigTestSupport.AssertSameModel(original, back);
        Assert.Empty(back.Warnings.Where(w => !original.Warnings.Any(o => o.Message == w.Message)));
        // And printing it again gives the same text: the printed form is canonical.
        Assert.Equal(text, ConfigPrinter.Print(back, format));
    }

    [Fact]
    public void Print_Everything_UsesEachFormatsOwnWords()
    {
        var config = Load("everything");
        string set = ConfigPrinter.Print(config, ConfigFormat.Set);
        string boot = ConfigPrinter.Print(config, ConfigFormat.Boot);
        string ip = ConfigPrinter.Print(config, ConfigFormat.Iproute2);

        Assert.Contains("set protocols static interface-route 10.2.0.0/16 next-hop-interface ipiptun distance '3'", set, StringComparison.Ordinal);
        Assert.Contains("set protocols static route 10.3.0.0/16 blackhole distance '7'", set, StringComparison.Ordinal);
        Assert.Contains("    ethernet eth1 {\n        address 10.1.5.1/24\n        address 10.1.6.1/24\n        description \"LAN side, \\\"quoted\\\" and it's\"\n    }", boot, StringComparison.Ordinal);
        Assert.Contains("            next-hop 1.1.1.2 {\n            }", boot, StringComparison.Ordinal);
        Assert.Contains("ip tunnel add tun0 mode gre local 172.12.1.10 remote 172.12.1.11 ttl 64 tos 10 ikey 8 okey 9 icsum seq\n", ip, StringComparison.Ordinal);
        Assert.Contains("ip route add 10.2.0.0/16 metric 2 nexthop via 1.1.1.2 dev tun0 nexthop via 2.2.2.2 dev tun1 nexthop dev ipiptun\n", ip, StringComparison.Ordinal);
        Assert.Contains("ip route add blackhole 10.3.0.0/16 metric 6\n", ip, StringComparison.Ordinal);
        Assert.Contains("ip addr add 2.2.2.1 peer 2.2.2.2/32 dev tun1\n", ip, StringComparison.Ordinal);
        Assert.Contains("# fasttun interface eth1 driver 'af_xdp'\n", ip, StringComparison.Ordinal);
    }
}
