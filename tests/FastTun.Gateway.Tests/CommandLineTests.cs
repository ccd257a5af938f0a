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
        Assert.Contains("unknown command 'frobnicate'", stderr);
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
}
