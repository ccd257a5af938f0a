using System.Reflection;

namespace FastTun.Gateway.Cli;

/// <summary>Entry point of the <c>fasttun</c> executable: dispatches the sub-command.</summary>
public static class CommandLine
{
    public const int ExitOk = 0;
    public const int ExitError = 1;
    public const int ExitUsage = 2;

    public static string Version =>
        typeof(CommandLine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(CommandLine).Assembly.GetName().Version?.ToString() ?? "unknown";

    public const string Usage = """
        fasttun — userspace IPIP/GRE gateway

        Usage:
          fasttun --help             show this help
          fasttun --version          show the version

        """;

    public static int Run(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Error.Write(Usage);
            return ExitUsage;
        }
        switch (args[0])
        {
            case "-h" or "--help" or "help":
                Console.Out.Write(Usage);
                return ExitOk;
            case "-V" or "--version" or "version":
                Console.Out.WriteLine($"fasttun {Version}");
                return ExitOk;
            default:
                Console.Error.WriteLine($"fasttun: unknown command '{args[0]}' (see fasttun --help)");
                return ExitUsage;
        }
    }
}
