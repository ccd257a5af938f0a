namespace FastTun.Gateway.Cli;

/// <summary>The two ways a sub-command ends in error, worded alike for every command:
/// a usage error (exit 2, message then the usage text) and a run-time failure (exit 1, message).</summary>
internal static class CliErrors
{
    public static int Usage(string command, string message, string usageText)
    {
        Console.Error.WriteLine($"fasttun {command}: {message}");
        Console.Error.Write(usageText);
        return CommandLine.ExitUsage;
    }

    public static int Fail(string command, string message)
    {
        Console.Error.WriteLine($"fasttun {command}: {message}");
        return CommandLine.ExitError;
    }
}
