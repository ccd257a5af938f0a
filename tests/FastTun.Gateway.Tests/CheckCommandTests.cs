using FastTun.Gateway.Cli;
using Microsoft.Extensions.Logging;

namespace FastTun.Gateway.Tests;

public class CheckCommandTests
{
    private static (int Code, string Stdout, string Stderr, CapturingLogger Log) Check(params string[] args)
    {
        var log = new CapturingLogger();
        using var factory = LoggerFactory.Create(b => b.AddProvider(log));
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CheckCommand.Run(args, stdout, stderr, factory);
        return (code, stdout.ToString(), stderr.ToString(), log);
    }

    [Fact]
    public void Run_Gw1Ipip_PrintsInterfacesTunnelAndRoutes()
    {
        var (code, stdout, stderr, log) = Check("--config", ConfigTestSupport.ConfigFile("gw1-ipip.conf"));

        Assert.Equal(CommandLine.ExitOk, code);
        Assert.Equal("", stderr);
        Assert.Contains("  eth1: 10.1.5.1/24 ", stdout, StringComparison.Ordinal);
        Assert.Contains("  eth2: 172.12.1.10/24 ", stdout, StringComparison.Ordinal);
        Assert.Contains("driver af_xdp queues 1", stdout, StringComparison.Ordinal);
        Assert.Contains("  tun0: ipip/ip remote 172.12.1.11 local 172.12.1.10 dev eth2 ttl 255 tos inherit pmtudisc\n", stdout, StringComparison.Ordinal);
        Assert.Contains("    1.1.1.1/24 mtu 1480 ", stdout, StringComparison.Ordinal);
        Assert.Contains("  10.1.8.0/24 via 1.1.1.2 dev tun0 proto static", stdout, StringComparison.Ordinal);
        Assert.Contains("  1.1.1.0/24 dev tun0 proto kernel scope link src 1.1.1.1\n", stdout, StringComparison.Ordinal);
        Assert.Contains("  172.12.1.0/24 dev eth2 proto kernel scope link src 172.12.1.10\n", stdout, StringComparison.Ordinal);
        Assert.Contains("ignored lines: 19\n", stdout, StringComparison.Ordinal);
        Assert.Equal(19, log.Entries.Count(e => e.Message.Contains("ignored", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("gw1-gre.conf", "    1.1.1.1/24 mtu 1476 ", "gre/ip remote 172.12.1.11 local 172.12.1.10 dev eth2 ttl 255 tos inherit pmtudisc\n")]
    [InlineData("gw1-gre-opts.conf", "    1.1.1.1/24 mtu 1464 ", "pmtudisc key 42 csum seq\n")]
    [InlineData("gw2-gre-opts.conf", "    1.1.1.2/24 mtu 1464 ", "gre/ip remote 172.12.1.10 local 172.12.1.11 dev eth2")]
    public void Run_GreConfigs_PrintMtuAndOptions(string file, string mtu, string tunnel)
    {
        var (code, stdout, _, _) = Check("--config=" + ConfigTestSupport.ConfigFile(file));
        Assert.Equal(CommandLine.ExitOk, code);
        Assert.Contains(mtu, stdout, StringComparison.Ordinal);
        Assert.Contains(tunnel, stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_InvalidFile_ExitsOneListingEveryErrorWithLine()
    {
        string path = Path.Combine(Path.GetTempPath(), $"fasttun-check-{Environment.ProcessId}.conf");
        File.WriteAllText(path, "set interfaces ethernet eth2 address '172.12.1.10/24'\nset interfaces tunnel tun0 encapsulation 'ipip'\nset interfaces tunnel tun0 parameters ip key 1\nset nonsense\n");
        try
        {
            var (code, stdout, stderr, _) = Check("--config", path);
            Assert.Equal(CommandLine.ExitError, code);
            Assert.Equal("", stdout);
            Assert.Contains("is invalid (4 errors)", stderr, StringComparison.Ordinal);
            Assert.Contains($"{path}:2: tunnel tun0: must configure the tunnel local-ip", stderr, StringComparison.Ordinal);
            Assert.Contains($"{path}:3: tunnel tun0: parameters ip key is only valid for GRE", stderr, StringComparison.Ordinal);
            Assert.Contains($"{path}:4: unknown or unsupported configuration line: set nonsense", stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(new string[0], "fasttun check: Option '--config' is required.")]
    [InlineData(new[] { "--config" }, "fasttun check: Required argument missing for option: '--config'.")]
    [InlineData(new[] { "--config", "/nonexistent/gw.conf" }, "fasttun check: --config: configuration file '/nonexistent/gw.conf' not found")]
    [InlineData(new[] { "--config", "/" }, "fasttun check: --config: '/' is a directory")]
    [InlineData(new[] { "--frob" }, "fasttun check: unknown command or argument '--frob'")]
    [InlineData(new[] { "--log-level", "loud" }, "fasttun check: --log-level: 'loud' is not a log level")]
    public void Run_UsageError_ExitsTwoWithMessage(string[] args, string message)
    {
        var (code, stdout, stderr, _) = Check(args);
        Assert.Equal(CommandLine.ExitUsage, code);
        Assert.Equal("", stdout);
        Assert.Contains(message, stderr, StringComparison.Ordinal);
        Assert.Contains("see 'fasttun check --help'", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void CommandLineRun_Check_DispatchesToCheck()
    {
        var (code, _, stderr) = CommandLineTests.Capture(["check"]);
        Assert.Equal(CommandLine.ExitUsage, code);
        Assert.Contains("fasttun check: Option '--config' is required.", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void CommandLineRun_CheckWithoutVerbose_LogsNothing()
    {
        var (code, stdout, stderr) = CommandLineTests.Capture(["check", "--config", ConfigTestSupport.ConfigFile("gw1-ipip.conf")]);
        Assert.Equal(CommandLine.ExitOk, code);
        Assert.Equal("", stderr);
        Assert.Contains("ignored lines: 19\n", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void CommandLineRun_CheckVerbose_LogsIgnoredLines()
    {
        var (code, _, stderr) = CommandLineTests.Capture(["check", "-v", "--config", ConfigTestSupport.ConfigFile("gw1-ipip.conf")]);
        Assert.Equal(CommandLine.ExitOk, code);
        Assert.Contains("ignored", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_Json_PrintsOneDocumentWithTunnelAndRoutes()
    {
        var (code, stdout, stderr, _) = Check("--json", "--config", ConfigTestSupport.ConfigFile("gw1-ipip.conf"));
        Assert.Equal(CommandLine.ExitOk, code);
        Assert.Equal("", stderr);
        using var doc = System.Text.Json.JsonDocument.Parse(stdout);
        Assert.True(doc.RootElement.GetProperty("valid").GetBoolean());
        var tun = doc.RootElement.GetProperty("tunnels")[0];
        Assert.Equal("tun0", tun.GetProperty("name").GetString());
        Assert.Equal(1480, tun.GetProperty("mtu").GetInt32());
        Assert.Contains(doc.RootElement.GetProperty("routes").EnumerateArray(), r => r.GetString()!.StartsWith("10.1.8.0/24 via 1.1.1.2", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("info", LogLevel.Information)]
    [InlineData("Warning", LogLevel.Warning)]
    [InlineData("debug", LogLevel.Debug)]
    public void LoggingTryParseLevel_Names_Parse(string text, LogLevel level)
    {
        Assert.True(Logging.TryParseLevel(text, out var parsed));
        Assert.Equal(level, parsed);
        Assert.False(Logging.TryParseLevel("3", out _));
    }
}
