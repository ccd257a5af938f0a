using FastTun.Gateway.Cli;
using FastTun.Gateway.Config;

namespace FastTun.Gateway.Tests;

/// <summary>fasttun config show --config FILE: prints a given file in each format; bad arguments are usage errors.</summary>
public class ConfigShowCommandTests
{
    [Theory]
    [InlineData("set")]
    [InlineData("boot")]
    [InlineData("iproute2")]
    public void Run_GivenFile_PrintsLoadableTranslation(string format)
    {
        string path = ConfigTestSupport.ConfigFile("gw2-gre-opts.conf");
        var output = new StringWriter();
        var error = new StringWriter();
        int code = ConfigCommand.Run(["show", "--config", path, "--format", format], output, error);

        Assert.Equal((CommandLine.ExitOk, ""), (code, error.ToString()));
        ConfigFormats.TryParse(format, out var f);
        var back = GatewayConfig.Parse(output.ToString(), "out", new CapturingLogger(), f);
        ConfigTestSupport.AssertSameModel(GatewayConfig.Load(path, new CapturingLogger()), back);
    }

    [Theory]
    [InlineData(new[] { "show", "--format", "xml", "--config", "x" }, "fasttun config show: --format: 'xml' is not set, boot or iproute2")]
    [InlineData(new[] { "list" }, "fasttun config: unknown command or argument 'list'")]
    [InlineData(new[] { "show", "--input-format", "boot" }, "--input-format goes with --config FILE")]
    [InlineData(new[] { "show", "--config", "/nonexistent/fasttun.conf" }, "not found")]
    public void Run_BadArguments_UsageError(string[] args, string fragment)
    {
        var error = new StringWriter();
        Assert.Equal(CommandLine.ExitUsage, ConfigCommand.Run(args, new StringWriter(), error));
        Assert.Contains(fragment, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Run_InvalidFile_ExitOneWithErrors()
    {
        string path = Path.Combine(Path.GetTempPath(), $"fasttun-config-show-{Environment.ProcessId}.sh");
        File.WriteAllText(path, "ip addr add 172.12.1.10/24 dev eth2\nip tunnel add t mode sit local 172.12.1.10 remote 172.12.1.11\n");
        try
        {
            var error = new StringWriter();
            Assert.Equal(CommandLine.ExitError, ConfigCommand.Run(["show", "--config", path], new StringWriter(), error));
            Assert.Contains($"{path}:2: mode 'sit'", error.ToString(), StringComparison.Ordinal);
        }
        finally { File.Delete(path); }
    }
}
