namespace FastTun.Gateway.Cli;

/// <summary>A run-time failure (exit 1), worded like every other command's: <c>fasttun CMD: message</c> on stderr.
/// Usage errors never reach a command body: System.CommandLine reports them while parsing (exit 2).</summary>
internal static class CliErrors
{
    public static int Fail(string command, string message)
    {
        Console.Error.WriteLine($"fasttun {command}: {message}");
        return CommandLine.ExitError;
    }
}
