using FastTun.Packets.Headers;
using FastTun.Gateway.Config;
using Microsoft.Extensions.Logging;

namespace FastTun.Gateway.Tests;

/// <summary>The seed lab's VyOS configurations (shared/seeds/004) load unchanged and describe the seed topology.</summary>
public class ConfigSeedTests
{
    /// <summary>gw1's <c>show configuration commands</c>, copied from the seed article.</summary>
    internal const string SeedGw1 = """
        set interfaces ethernet eth1 address '10.1.5.1/24'
        set interfaces ethernet eth1 duplex 'auto'
        set interfaces ethernet eth1 smp-affinity 'auto'
        set interfaces ethernet eth1 speed 'auto'
        set interfaces ethernet eth2 address '172.12.1.10/24'
        set interfaces ethernet eth2 duplex 'auto'
        set interfaces ethernet eth2 smp-affinity 'auto'
        set interfaces ethernet eth2 speed 'auto'
        set interfaces loopback lo
        set interfaces tunnel tun0 address '1.1.1.1/24'
        set interfaces tunnel tun0 encapsulation 'ipip'
        set interfaces tunnel tun0 local-ip '172.12.1.10'
        set interfaces tunnel tun0 multicast 'disable'
        set interfaces tunnel tun0 remote-ip '172.12.1.11'
        set protocols static route 10.1.8.0/24 next-hop 1.1.1.2
        set system config-management commit-revisions '100'
        set system console device ttyS0 speed '9600'
        set system host-name 'vyos'
        set system login user vyos authentication encrypted-password '$6$QxPS.uk6mfo$9QBSo8u1FkH16gMyAVhus6fU3LOzvLR9Z9.82m3tiHFAxTtIkhaZSWssSgzt4v4dGAL8rhVQxTg0oAG9/q11h/'
        set system login user vyos authentication plaintext-password ''
        set system login user vyos level 'admin'
        set system ntp server 0.pool.ntp.org
        set system ntp server 1.pool.ntp.org
        set system ntp server 2.pool.ntp.org
        set system syslog global facility all level 'info'
        set system syslog global facility protocols level 'debug'
        set system time-zone 'UTC'
        """;

    /// <summary>gw2's <c>show configuration commands</c>, copied from the seed article.</summary>
    internal const string SeedGw2 = """
        set interfaces ethernet eth1 address '10.1.8.1/24'
        set interfaces ethernet eth1 duplex 'auto'
        set interfaces ethernet eth1 smp-affinity 'auto'
        set interfaces ethernet eth1 speed 'auto'
        set interfaces ethernet eth2 address '172.12.1.11/24'
        set interfaces ethernet eth2 duplex 'auto'
        set interfaces ethernet eth2 smp-affinity 'auto'
        set interfaces ethernet eth2 speed 'auto'
        set interfaces loopback lo
        set interfaces tunnel tun0 address '1.1.1.2/24'
        set interfaces tunnel tun0 encapsulation 'ipip'
        set interfaces tunnel tun0 local-ip '172.12.1.11'
        set interfaces tunnel tun0 multicast 'disable'
        set interfaces tunnel tun0 remote-ip '172.12.1.10'
        set protocols static route 10.1.5.0/24 next-hop 1.1.1.1
        set system config-management commit-revisions '100'
        set system console device ttyS0 speed '9600'
        set system host-name 'vyos'
        set system login user vyos authentication encrypted-password '$6$QxPS.uk6mfo$9QBSo8u1FkH16gMyAVhus6fU3LOzvLR9Z9.82m3tiHFAxTtIkhaZSWssSgzt4v4dGAL8rhVQxTg0oAG9/q11h/'
        set system login user vyos authentication plaintext-password ''
        set system login user vyos level 'admin'
        set system ntp server 0.pool.ntp.org
        set system ntp server 1.pool.ntp.org
        set system ntp server 2.pool.ntp.org
        set system syslog global facility all level 'info'
        set system syslog global facility protocols level 'debug'
        set system time-zone 'UTC'
        """;

    private static string[] SetLines(string text, bool withoutFastTun) =>
        [.. text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.StartsWith("set ", StringComparison.Ordinal))
            .Where(l => !withoutFastTun || !(l.StartsWith("set fasttun ", StringComparison.Ordinal) || l.Contains(" parameters ip ", StringComparison.Ordinal)))];

    /// <summary>The set lines the article prints after "root@HOST:/# show configuration commands".</summary>
    private static string[] SeedBlock(string article, string host)
    {
        var lines = File.ReadAllLines(article);
        int start = Array.FindIndex(lines, l => l.Contains($"root@{host}:/# show configuration commands", StringComparison.Ordinal));
        Assert.True(start >= 0, $"no {host} block in {article}");
        return [.. lines.Skip(start + 1).TakeWhile(l => l.StartsWith("set ", StringComparison.Ordinal))];
    }

    [Fact]
    public void Parse_SeedGw1Unchanged_BuildsGw1()
    {
        var logger = new CapturingLogger();
        var config = GatewayConfig.Parse(SeedGw1, "gw1", logger);

        Assert.Equal(["eth1", "eth2"], config.Interfaces.Select(i => i.Name));
        Assert.Equal("10.1.5.1/24", Assert.Single(config.Interfaces[0].Addresses).ToString());
        Assert.Equal("172.12.1.10/24", Assert.Single(config.Interfaces[1].Addresses).ToString());
        var tun = Assert.Single(config.Tunnels);
        Assert.Equal(("tun0", TunnelMode.Ipip, "172.12.1.10", "172.12.1.11"), (tun.Name, tun.Mode, Ipv4Address.Format(tun.Local), Ipv4Address.Format(tun.Remote)));
        Assert.Equal("1.1.1.1/24", Assert.Single(tun.Addresses).ToString());
        Assert.Equal(255, tun.Ttl);
        Assert.True(tun.Tos.Inherit);
        Assert.True(tun.PathMtuDiscovery);
        Assert.Null(tun.InputKey);
        Assert.Null(tun.OutputKey);
        Assert.Equal(1480, tun.Mtu);
        Assert.False(tun.MtuConfigured);
        Assert.Equal("eth2", tun.Underlay);
        Assert.Equal(tun.Remote, tun.UnderlayNextHop);
        Assert.False(tun.Multicast);
        Assert.Equal("10.1.8.0/24 via 1.1.1.2 dev tun0", Assert.Single(config.StaticRoutes).ToString());
        Assert.Equal(3, config.ConnectedRoutes.Length);
        Assert.Empty(config.Warnings);
        Assert.Equal(19, config.IgnoredLines);
        Assert.DoesNotContain(logger.Entries, e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public void Parse_SeedGw2Unchanged_BuildsGw2()
    {
        var config = GatewayConfig.Parse(SeedGw2, "gw2", new CapturingLogger());

        var tun = Assert.Single(config.Tunnels);
        Assert.Equal(("172.12.1.11", "172.12.1.10", "eth2", 1480), (Ipv4Address.Format(tun.Local), Ipv4Address.Format(tun.Remote), tun.Underlay, tun.Mtu));
        Assert.Equal("10.1.5.0/24 via 1.1.1.1 dev tun0", Assert.Single(config.StaticRoutes).ToString());
        Assert.Equal("1.1.1.0/24 dev tun0 proto kernel scope link src 1.1.1.2", config.ConnectedRoutes.Single(c => c.Interface == "tun0").ToString());
    }

    [Fact]
    public void Parse_SeedGw1_LogsOneLineForEachIgnoredLine()
    {
        var logger = new CapturingLogger();
        var config = GatewayConfig.Parse(SeedGw1, "gw1", logger);

        var ignored = logger.Entries.Where(e => e.Message.Contains("ignored", StringComparison.Ordinal)).ToList();
        Assert.Equal(config.IgnoredLines, ignored.Count);
        var lines = SeedGw1.Split('\n');
        var expected = Enumerable.Range(1, lines.Length)
            .Where(n => lines[n - 1].Contains(" system ", StringComparison.Ordinal) || lines[n - 1].Contains(" duplex ", StringComparison.Ordinal)
                     || lines[n - 1].Contains(" speed ", StringComparison.Ordinal) || lines[n - 1].Contains(" smp-affinity ", StringComparison.Ordinal)
                     || lines[n - 1].Contains(" loopback ", StringComparison.Ordinal))
            .Select(n => $"gw1:{n}: ignored");
        Assert.Equal(expected, ignored.Select(e => e.Message[..e.Message.IndexOf(',')]));
        Assert.All(ignored, e => Assert.Equal(LogLevel.Information, e.Level));
        Assert.Contains(ignored, e => e.Message.EndsWith("set system host-name 'vyos'", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("gw1-ipip.conf", TunnelMode.Ipip, 1480)]
    [InlineData("gw2-ipip.conf", TunnelMode.Ipip, 1480)]
    [InlineData("gw1-gre.conf", TunnelMode.Gre, 1476)]
    [InlineData("gw2-gre.conf", TunnelMode.Gre, 1476)]
    [InlineData("gw1-gre-opts.conf", TunnelMode.Gre, 1464)]
    [InlineData("gw2-gre-opts.conf", TunnelMode.Gre, 1464)]
    public void Load_RepoConfig_IsValidWithExpectedTunnel(string file, TunnelMode mode, int mtu)
    {
        var config = GatewayConfig.Load(ConfigTestSupport.ConfigFile(file), new CapturingLogger());

        var tun = Assert.Single(config.Tunnels);
        Assert.Equal((mode, mtu, "eth2"), (tun.Mode, tun.Mtu, tun.Underlay));
        Assert.All(config.Interfaces, i => Assert.Equal(PortDriver.AfXdp, i.Driver));
        Assert.Empty(config.Warnings);
        bool options = file.Contains("opts", StringComparison.Ordinal);
        Assert.Equal(options ? 42u : null, tun.OutputKey);
        Assert.Equal(options ? 42u : null, tun.InputKey);
        Assert.Equal(options, tun.InputChecksum && tun.OutputChecksum && tun.InputSequence && tun.OutputSequence);
    }

    [Theory]
    [InlineData("gw1-ipip.conf", "gw1")]
    [InlineData("gw2-ipip.conf", "gw2")]
    public void ConfigFile_IpipSetLines_AreTheSeedVerbatim(string file, string host)
    {
        string seed = host == "gw1" ? SeedGw1 : SeedGw2;
        Assert.Equal(SetLines(seed, false), SetLines(File.ReadAllText(ConfigTestSupport.ConfigFile(file)), true));
    }

    [Theory]
    [InlineData("gw1-gre.conf", "gw1")]
    [InlineData("gw2-gre-opts.conf", "gw2")]
    public void ConfigFile_GreSetLines_AreTheSeedWithGreEncapsulation(string file, string host)
    {
        string seed = (host == "gw1" ? SeedGw1 : SeedGw2).Replace("encapsulation 'ipip'", "encapsulation 'gre'", StringComparison.Ordinal);
        Assert.Equal(SetLines(seed, false), SetLines(File.ReadAllText(ConfigTestSupport.ConfigFile(file)), true));
    }

    /// <summary>When the seed article is at hand (../shared beside the repository), the copies above match it.</summary>
    [Fact]
    public void SeedCopies_WhenSeedArticlePresent_MatchArticle()
    {
        string? article = ConfigTestSupport.SeedArticle();
        if (article is null) return;
        Assert.Equal(SeedBlock(article, "gw1"), SetLines(SeedGw1, false));
        Assert.Equal(SeedBlock(article, "gw2"), SetLines(SeedGw2, false));
    }
}
