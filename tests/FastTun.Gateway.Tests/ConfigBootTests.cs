using FastTun.Gateway.Config;

namespace FastTun.Gateway.Tests;

/// <summary>VyOS config.boot (brace format): the seed's gw1 and gw2 files load unchanged into the model their set lines build.</summary>
public class ConfigBootTests
{
    /// <summary>The n-th config.boot block of the 004 article: from "interfaces {" to the release-version footer, verbatim.</summary>
    internal static string SeedBootBlock(int n)
    {
        var lines = File.ReadAllLines(ConfigTestSupport.SeedFile("004"));
        int start = -1;
        for (int i = 0, seen = 0; i < lines.Length; i++)
            if (lines[i] == "interfaces {" && seen++ == n) { start = i; break; }
        Assert.True(start >= 0, $"config.boot block {n} not found in the 004 seed");
        int end = Array.FindIndex(lines, start, l => l.StartsWith("/* Release version: 1.2.8 */", StringComparison.Ordinal));
        Assert.True(end > start, "no release-version footer after the config.boot block");
        return string.Join('\n', lines[start..(end + 1)]) + "\n";
    }

    [Theory]
    [InlineData(0, "gw1")]
    [InlineData(1, "gw2")]
    public void Parse_SeedConfigBoot_EqualsModelOfItsSetLines(int block, string host)
    {
        string boot = SeedBootBlock(block);
        Assert.Equal(ConfigFormat.Boot, ConfigFormats.Detect(boot));
        var fromBoot = GatewayConfig.Parse(boot, $"{host}.cfg", new CapturingLogger());
        var fromSet = GatewayConfig.Parse(host == "gw1" ? ConfigSeedTests.SeedGw1 : ConfigSeedTests.SeedGw2, host, new CapturingLogger());

        Assert.Equal(ConfigFormat.Boot, fromBoot.Format);
        ConfigTestSupport.AssertSameModel(fromSet, fromBoot);
        Assert.Equal(["eth1", "eth2"], fromBoot.Interfaces.Select(i => i.Name));
        Assert.Equal("tun0", Assert.Single(fromBoot.Tunnels).Name);
        Assert.Empty(fromBoot.Warnings);
        Assert.Equal(fromSet.IgnoredLines, fromBoot.IgnoredLines); // the same leaves, one ignored line each
    }

    [Fact]
    public void Parse_BootNestedNodesQuotesAndComments_BuildsModel()
    {
        const string boot = """
            /* a comment
               over two lines */
            interfaces {
                ethernet eth2 {
                    address 172.12.1.10/24
                    address 172.12.2.10/24
                    description "underlay \"A\""
                }
                tunnel tun0 { # trailing comment
                    address 1.1.1.1/24
                    encapsulation gre
                    local-ip 172.12.1.10
                    remote-ip 172.12.1.11
                    parameters {
                        ip {
                            key 42
                            checksum
                        }
                    }
                }
            }
            protocols {
                static {
                    route 10.1.8.0/24 {
                        next-hop 1.1.1.2 {
                            distance 5
                        }
                    }
                    interface-route 10.1.9.0/24 {
                        next-hop-interface tun0 {
                        }
                    }
                }
            }
            """;
        var config = GatewayConfig.Parse(boot, "b.cfg", new CapturingLogger());
        var eth = Assert.Single(config.Interfaces);
        Assert.Equal(["172.12.1.10/24", "172.12.2.10/24"], eth.Addresses.Select(a => a.ToString()));
        Assert.Equal("underlay \"A\"", eth.Description);
        var tun = Assert.Single(config.Tunnels);
        Assert.Equal((TunnelMode.Gre, 42u, true), (tun.Mode, tun.OutputKey!.Value, tun.OutputChecksum));
        Assert.Equal(["10.1.8.0/24 via 1.1.1.2 dev tun0", "10.1.9.0/24 dev tun0"], config.StaticRoutes.Select(r => r.ToString()));
        Assert.Equal(5, config.StaticRoutes[0].Distance);
    }

    [Theory]
    [InlineData("interfaces {\n    ethernet eth2 {\n        address 172.12.1.10/24\n    }\n", 1, "is not closed")]
    [InlineData("interfaces {\n}\n}\n", 3, "closes nothing")]
    [InlineData("interfaces {\n    ethernet eth2 {\n        frobnicate 7\n    }\n}\n", 3, "set interfaces ethernet eth2 frobnicate 7")]
    [InlineData("interfaces {\n    tunnel tun0 {\n        encapsulation sit\n    }\n}\n", 3, "encapsulation 'sit' is not supported")]
    [InlineData("/* open\ninterfaces {\n}\n", 1, "comment is not closed")]
    public void Parse_BadBoot_ErrorNamesFileAndLine(string boot, int line, string fragment)
    {
        var e = Assert.Throws<ConfigException>(() => GatewayConfig.Parse(boot, "x.cfg", new CapturingLogger(), ConfigFormat.Boot));
        Assert.Contains(e.Errors, d => d.Line == line && d.ToString().StartsWith($"x.cfg:{line}: ", StringComparison.Ordinal)
            && d.Message.Contains(fragment, StringComparison.Ordinal));
    }
}

/// <summary>The repository's config.boot and iproute2 forms of the seed gateways.</summary>
public class ConfigRepoFormatTests
{
    [Theory]
    [InlineData("gw1")]
    [InlineData("gw2")]
    public void Load_RepoBoot_SameModelAsSetFile(string gw)
    {
        var boot = GatewayConfig.Load(ConfigTestSupport.ConfigFile($"{gw}-ipip.boot"), new CapturingLogger());
        Assert.Equal(ConfigFormat.Boot, boot.Format);
        ConfigTestSupport.AssertSameModel(GatewayConfig.Load(ConfigTestSupport.ConfigFile($"{gw}-ipip.conf"), new CapturingLogger()), boot);
    }

    [Theory]
    [InlineData("gw1")]
    [InlineData("gw2")]
    public void Load_RepoIproute2_SameModelAsSetFileExceptIproute2Defaults(string gw)
    {
        string path = ConfigTestSupport.ConfigFile($"{gw}-ipip.sh");
        var ip = GatewayConfig.Load(path, new CapturingLogger());
        Assert.Equal(ConfigFormat.Iproute2, ip.Format);
        var tun = Assert.Single(ip.Tunnels);
        Assert.Equal((0, TunnelTos.Fixed(0)), (tun.Ttl, tun.Tos)); // iproute2: ttl inherit, tos 0

        // With VyOS's defaults written out, it is exactly the set file.
        string text = File.ReadAllText(path);
        int add = text.IndexOf("ip tunnel add tun0", StringComparison.Ordinal);
        int eol = text.IndexOf('\n', add);
        var vyos = GatewayConfig.Parse(text.Insert(eol, " ttl 255 tos inherit"), path, new CapturingLogger());
        ConfigTestSupport.AssertSameModel(GatewayConfig.Load(ConfigTestSupport.ConfigFile($"{gw}-ipip.conf"), new CapturingLogger()), vyos);
    }
}
