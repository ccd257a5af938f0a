using FastTun.Gateway.Cli;

namespace FastTun.Gateway.Tests;

public class CommandLineTests
{
    [Fact]
    public void Run_Version_PrintsVersionAndExitsZero()
    {
        var (code, stdout, _) = Capture(["--version"]);
        Assert.Equal(CommandLine.ExitOk, code);
        Assert.StartsWith("fasttun 0.1.0", stdout);
    }

    [Fact]
    public void Run_Unknown_ExitsWithUsageError()
    {
        var (code, _, stderr) = Capture(["frobnicate"]);
        Assert.Equal(CommandLine.ExitUsage, code);
        Assert.Contains("fasttun: unknown command or argument 'frobnicate'", stderr);
    }

    [Theory]
    [InlineData("run")]
    [InlineData("check")]
    [InlineData("show")]
    [InlineData("show", "stats")]
    [InlineData("stats")]
    [InlineData("route")]
    [InlineData("capture")]
    [InlineData("diff")]
    [InlineData("config", "show")]
    [InlineData("gen")]
    [InlineData("sink")]
    [InlineData("bench", "rfc2544")]
    [InlineData("completion")]
    public void Run_HelpOnEveryCommand_PrintsUsageAndExitsZero(params string[] command)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CommandLine.Run([.. command, "--help"], output, error);
        Assert.Equal(CommandLine.ExitOk, code);
        Assert.Equal("", error.ToString());
        // The usage line names the executable (the test host here, fasttun when installed), then the command.
        Assert.Contains("Usage:", output.ToString());
        Assert.Contains($" {string.Join(' ', command)} ", output.ToString());
        Assert.Contains("--help", output.ToString());
    }

    [Theory]
    [InlineData("run --config /etc/hostname --metrics nonsense", "fasttun run: --metrics: 'nonsense' is not ADDRESS:PORT")]
    [InlineData("run --config /etc/hostname --control-socket /tmp", "fasttun run: --control-socket: '/tmp' is a directory")]
    [InlineData("show stats --control-socket /tmp/0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789.sock",
        "is longer than the 107 bytes a Unix socket path may have")]
    [InlineData("run --config /etc/hostname --log-level loud", "fasttun run: --log-level: 'loud' is not a log level")]
    [InlineData("gen --iface lo --dst 10.0.0.1 --size 20", "fasttun gen: --size: '20' is not a whole number from")]
    [InlineData("gen --iface lo --dst 10.0.0.1 --encap gre", "fasttun gen: --encap needs --outer-src and --outer-dst")]
    [InlineData("gen --iface lo --dst 10.0.0.1 --key 5", "fasttun gen: --key, --csum and --seq are GRE options")]
    [InlineData("gen --iface lo --dst 10.0.0.300", "fasttun gen: --dst: '10.0.0.300' is not A.B.C.D or A.B.C.D:PORT")]
    [InlineData("gen --iface lo", "fasttun gen: --dst is required")]
    [InlineData("gen --iface lo --dst 10.0.0.1 --dst-mac aa:bb", "fasttun gen: --dst-mac: 'aa:bb' is not a MAC address")]
    [InlineData("sink --iface lo --driver dpdk", "fasttun sink: --driver: 'dpdk' is not af_xdp or af_packet")]
    [InlineData("bench rfc2544 --tx-iface a --rx-iface b --dst 10.0.0.1 --loss 100", "fasttun bench rfc2544: --loss: '100' is not a number")]
    [InlineData("stats --count 3", "fasttun stats: --interval and --count go with --watch")]
    [InlineData("stats --watch --interval 0", "fasttun stats: --interval: '0' is not a number")]
    [InlineData("capture --point nowhere -w x.pcapng", "fasttun capture: Argument 'nowhere' not recognized. Must be one of")]
    [InlineData("route add 10.0.0.0/33 via 1.1.1.1", "fasttun route: '10.0.0.0/33' is not a prefix A.B.C.D/LEN")]
    [InlineData("neighbor add 10.1.5.300 mac aa:bb:cc:dd:ee:ff", "fasttun neighbor: '10.1.5.300' is not an IPv4 address")]
    [InlineData("diff only-one.pcapng", "fasttun diff: Required argument missing for command: 'diff'.")]
    [InlineData("check --config /etc/hostname --format xml", "fasttun check: --format: 'xml' is not set, boot or iproute2")]
    [InlineData("completion zsh", "fasttun completion: Argument 'zsh' not recognized. Must be one of")]
    public void Run_BadValue_UsageErrorBeforeAnythingRuns(string line, string message)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CommandLine.Run(line.Split(' '), output, error);
        Assert.Equal(CommandLine.ExitUsage, code);
        Assert.Equal("", output.ToString());
        Assert.Contains(message, error.ToString());
    }

    [Fact]
    public void Run_CompletionBash_PrintsScriptThatUsesSuggestDirective()
    {
        var output = new StringWriter();
        Assert.Equal(CommandLine.ExitOk, CommandLine.Run(["completion", "bash"], output, new StringWriter()));
        Assert.Contains("complete -o default -F _fasttun_complete fasttun", output.ToString());
        Assert.Contains("[suggest:", output.ToString());
    }

    [Fact]
    public void Run_SuggestDirective_ListsSubcommandsAndOptions()
    {
        var output = new StringWriter();
        Assert.Equal(CommandLine.ExitOk, CommandLine.Run(["[suggest:13]", "fasttun show "], output, new StringWriter()));
        var words = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains("interfaces", words);
        Assert.Contains("stats", words);
        Assert.Contains("neighbors", words);
    }

    [Fact]
    public void Run_SuggestDirective_OffersDriverNamesAsTyped()
    {
        var output = new StringWriter();
        Assert.Equal(CommandLine.ExitOk, CommandLine.Run(["[suggest:21]", "fasttun gen --driver "], output, new StringWriter()));
        var words = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(["af_packet", "af_xdp", "xdp_live"], words); // gen also drives the in-kernel generator
    }

    internal static (int Code, string Stdout, string Stderr) Capture(string[] args)
    {
        lock (ConsoleLock)
        {
            var oldOut = Console.Out;
            var oldErr = Console.Error;
            var o = new StringWriter();
            var e = new StringWriter();
            Console.SetOut(o);
            Console.SetError(e);
            try { return (CommandLine.Run(args), o.ToString(), e.ToString()); }
            finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
        }
    }

    internal static readonly object ConsoleLock = new();

    [Theory]
    [InlineData("show", "stats", "--help")]
    [InlineData("show", "tunnels", "-h")]
    [InlineData("route", "add", "--help")]
    [InlineData("stats", "--count", "0")]
    [InlineData("show", "stats", "--interval", "2")]
    [InlineData("show", "frob")]
    [InlineData("show", "--version")]
    [InlineData("show", "stats", "extra")]
    [InlineData("show", "neighbours", "--help")]
    [InlineData("show", "--help")]
    public void Build_NamedCommand_LeanRootSameOutputAsFullTree(params string[] args)
    {
        var (fullOut, fullErr, leanOut, leanErr) = (new StringWriter(), new StringWriter(), new StringWriter(), new StringWriter());
        int full = CommandLine.Run(CommandLine.Build(), args, fullOut, fullErr);
        int lean = CommandLine.Run(CommandLine.Build(args[0], args.Length > 1 ? args[1] : null), args, leanOut, leanErr);
        Assert.IsNotType<System.CommandLine.RootCommand>(CommandLine.Build(args[0]));
        Assert.Equal(full, lean);
        Assert.Equal(fullOut.ToString(), leanOut.ToString());
        Assert.Equal(fullErr.ToString(), leanErr.ToString());
    }
}
