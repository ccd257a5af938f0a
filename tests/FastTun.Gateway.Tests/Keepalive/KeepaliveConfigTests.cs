using FastTun.Gateway.Config;
using static FastTun.Gateway.Tests.ConfigTestSupport;

namespace FastTun.Gateway.Tests.Keepalive;

public class KeepaliveConfigTests
{
    private const string Line = "set interfaces tunnel tun0 parameters keepalive '10' '3'\n";

    [Fact]
    public void Parse_KeepaliveOnGre_IntervalAndRetries()
    {
        var t = Parse(Gw1Gre + Line).FindTunnel("tun0")!;
        Assert.Equal(new KeepaliveSettings(10, 3), t.Keepalive);
        Assert.Null(Parse(Gw1Gre).FindTunnel("tun0")!.Keepalive);
    }

    [Theory]
    [InlineData("0 3", "keepalive interval (seconds) must be a number from 1 to 32767, not '0'")]
    [InlineData("32768 3", "keepalive interval (seconds) must be a number from 1 to 32767, not '32768'")]
    [InlineData("10 0", "keepalive retries must be a number from 1 to 255, not '0'")]
    [InlineData("10 256", "keepalive retries must be a number from 1 to 255, not '256'")]
    [InlineData("ten 3", "keepalive interval (seconds) must be a number from 1 to 32767, not 'ten'")]
    [InlineData("10", "keepalive takes an interval in seconds and a retry count")]
    [InlineData("10 3 1", "keepalive takes an interval in seconds and a retry count")]
    public void Parse_KeepaliveOutOfRange_ClearError(string values, string message) =>
        SingleError(Gw1Gre + $"set interfaces tunnel tun0 parameters keepalive {values}\n", 7, message);

    [Fact]
    public void Parse_KeepaliveOnIpip_RejectedAsGreOnly()
    {
        string ipip = Gw1Gre.Replace("'gre'", "'ipip'", StringComparison.Ordinal);
        SingleError(ipip + Line, 7, "parameters keepalive is only valid for GRE (encapsulation ipip at line 4)");
    }

    [Fact]
    public void Parse_KeepaliveTwiceDifferent_Conflict() =>
        SingleError(Gw1Gre + Line + "set interfaces tunnel tun0 parameters keepalive 5 3\n", 8, "conflicting values for tunnel tun0 parameters keepalive: '5 3' here, '10 3' at line 7");

    [Theory]
    [InlineData(ConfigFormat.Set)]
    [InlineData(ConfigFormat.Boot)]
    [InlineData(ConfigFormat.Iproute2)]
    public void Print_Keepalive_EveryFormatLoadsBackTheSameModel(ConfigFormat format)
    {
        var config = Parse(Gw1Gre + Line + Gw1Tun1Ipip + """
            set protocols static route 10.1.8.0/24 next-hop 1.1.1.2
            set protocols static route 10.1.8.0/24 next-hop 1.1.2.2 distance '10'
            """);
        string text = ConfigPrinter.Print(config, format);
        if (format == ConfigFormat.Set) Assert.Contains("set interfaces tunnel tun0 parameters keepalive '10' '3'", text, StringComparison.Ordinal);
        if (format == ConfigFormat.Boot) Assert.Contains("keepalive 10 3", text, StringComparison.Ordinal);
        var again = GatewayConfig.Parse(text, "printed", new CapturingLogger(), format);
        AssertSameModel(config, again);
        Assert.Equal(new KeepaliveSettings(10, 3), again.FindTunnel("tun0")!.Keepalive);
        var standby = Assert.Single(again.StandbyRoutes);
        Assert.Equal(10, standby.Distance);
        Assert.Equal("tun1", Assert.Single(standby.Paths).Interface);
    }

    [Fact]
    public void Parse_FloatingRouteBehindKeepaliveTunnel_WarningSaysItTakesOver()
    {
        const string routes = "set protocols static route 10.1.8.0/24 next-hop 1.1.1.2\nset protocols static route 10.1.8.0/24 next-hop 172.12.1.1 distance 50\n";
        Assert.EndsWith("distance 1 is preferred; it takes over while keepalive holds tun0 down", Assert.Single(Parse(Gw1Gre + Line + routes).Warnings).Message, StringComparison.Ordinal);
        Assert.EndsWith("distance 1 is preferred", Assert.Single(Parse(Gw1Gre + routes).Warnings).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ConfigBootKeepalive_SameAsSetLine()
    {
        string boot = """
            interfaces {
                ethernet eth1 {
                    address 10.1.5.1/24
                }
                ethernet eth2 {
                    address 172.12.1.10/24
                }
                tunnel tun0 {
                    address 1.1.1.1/24
                    encapsulation gre
                    local-ip 172.12.1.10
                    parameters {
                        keepalive 10 3
                    }
                    remote-ip 172.12.1.11
                }
            }
            """;
        AssertSameModel(Parse(Gw1Gre + Line), GatewayConfig.Parse(boot, "b", new CapturingLogger(), ConfigFormat.Boot));
    }
}

public class KeepaliveCheckTests
{
    [Fact]
    public void Check_KeepaliveAndFloatingRoute_TextAndJsonShowThem()
    {
        string file = Path.Combine(Path.GetTempPath(), $"keepalive-check-{Environment.ProcessId}.conf");
        File.WriteAllText(file, Gw1Gre + """
            set interfaces tunnel tun0 parameters keepalive 10 3
            set protocols static route 10.1.8.0/24 next-hop 1.1.1.2
            set protocols static route 10.1.8.0/24 next-hop 172.12.1.1 distance 50

            """);
        try
        {
            using var factory = Microsoft.Extensions.Logging.LoggerFactory.Create(_ => { });
            var text = new StringWriter();
            Assert.Equal(0, FastTun.Gateway.Cli.CheckCommand.Run(["--config", file], text, new StringWriter(), factory));
            Assert.Contains("pmtudisc keepalive 10 3\n", text.ToString(), StringComparison.Ordinal);
            Assert.Contains("  10.1.8.0/24 via 172.12.1.1 dev eth2 proto static distance 50 standby\n", text.ToString(), StringComparison.Ordinal);
            var json = new StringWriter();
            Assert.Equal(0, FastTun.Gateway.Cli.CheckCommand.Run(["--config", file, "--json"], json, new StringWriter(), factory));
            var doc = System.Text.Json.Nodes.JsonNode.Parse(json.ToString())!;
            Assert.Equal(10, (int)doc["tunnels"]![0]!["keepalive"]!["interval"]!);
            Assert.Equal(3, (int)doc["tunnels"]![0]!["keepalive"]!["retries"]!);
            Assert.Equal("10.1.8.0/24 via 172.12.1.1 dev eth2 proto static distance 50", (string)doc["standbyRoutes"]![0]!);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
