using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Reflection;

namespace FastTun.Gateway.Cli;

/// <summary>
/// Entry point of the <c>fasttun</c> executable: one System.CommandLine tree for every command, so each has
/// <c>--help</c>, values are validated while parsing (before a command body touches a socket or interface),
/// and errors look the same everywhere: <c>fasttun CMD: message</c> on stderr, then a hint; exit 2 for a
/// usage error, 1 for a run-time failure, 0 for success.
/// </summary>
public static class CommandLine
{
    public const int ExitOk = 0;
    public const int ExitError = 1;
    public const int ExitUsage = 2;

    public static string Version =>
        typeof(CommandLine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(CommandLine).Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>Printed after the root's --help: the configuration syntax (also in the installed man page).</summary>
    public const string ConfigurationHelp = """
        Configuration: VyOS 1.2 'set' lines (show configuration commands), VyOS config.boot (braces),
        or iproute2 commands (ip tunnel add ... mode ipip|gre, ip addr add, ip link set, ip route add);
        the format is detected from the content, or named with --format. Set lines, for example
          set interfaces ethernet eth2 address '172.12.1.10/24'
          set interfaces tunnel tun0 encapsulation 'ipip'        (ipip or gre)
          set interfaces tunnel tun0 local-ip '172.12.1.10'
          set interfaces tunnel tun0 remote-ip '172.12.1.11'
          set interfaces tunnel tun0 address '1.1.1.1/24'
          set interfaces tunnel tun0 parameters ip key|ikey|okey K   ttl N|inherit   tos XX|inherit
          set interfaces tunnel tun0 parameters ip checksum | sequence   (also input-/output- forms)
          set interfaces tunnel tun0 parameters ip pmtu-discovery enable|disable
          set interfaces tunnel tun0 parameters keepalive 10 3   (GRE: probe every 10 s, down after 3 missed)
          set protocols static route 10.1.8.0/24 next-hop 1.1.1.2 [distance N]   (equal distances: ECMP)
          set protocols static route 10.9.0.0/16 blackhole [distance N]
          set protocols static interface-route 10.1.9.0/24 next-hop-interface tun0 [distance N]
        plus FastTun's own lines:
          set fasttun interface eth1 driver af_xdp|af_packet
          set fasttun interface eth1 queues N
          set fasttun workers N
          set fasttun control-socket PATH
          set fasttun neighbor 10.1.5.10 mac aa:bb:cc:dd:ee:ff   (and: neighbor A interface NAME)
        'system ...', duplex, speed, smp-affinity and 'interfaces loopback lo' are accepted and ignored.

        Talking to a running gateway needs root (the control socket is mode 0600); its path comes from
        --control-socket PATH, default /run/fasttun/fasttun.sock. Runtime changes (route, neighbor, tunnel set)
        override the file until restart and survive reloads.

        Exit status: 0 success, 1 failure, 2 usage error.

        """;

    /// <summary>Every top-level command, by name, built on demand.</summary>
    private static readonly (string Name, Func<IEnumerable<Command>> Build)[] Commands =
    [
        ("run", () => [RunCommand.Build()]),
        ("check", () => [CheckCommand.Build()]),
        ("show", () => [ShowCommand.Build()]),
        ("stats", () => [ShowCommand.BuildStats("stats")]),
        ("route neighbor neighbour tunnel reload", ChangeCommands.Build),
        ("capture", () => [CaptureCommand.Build()]),
        ("config", () => [ConfigCommand.Build()]),
        ("diff", () => [DiffCommand.Build()]),
        ("gen", () => [GenCommand.Build()]),
        ("sink", () => [SinkCommand.Build()]),
        ("bench", () => [BenchCommand.Build()]),
        ("completion", () => [CompletionCommand.Build()]),
    ];

    /// <summary>Builds the command tree: all of it, or with <paramref name="first"/> naming a command, only that
    /// command (a short command such as show stats then skips building, and JIT-compiling, every other
    /// command's options; an unknown word gets the whole tree and its error).</summary>
    public static RootCommand Build(string? first = null)
    {
        var root = new RootCommand("fasttun — userspace IPIP/GRE gateway (AF_XDP / AF_PACKET)");
        bool one = first is not null && Commands.Any(c => c.Name.Split(' ').Contains(first));
        foreach (var (name, build) in Commands)
            if (!one || name.Split(' ').Contains(first))
                foreach (var command in build()) root.Subcommands.Add(command);
        foreach (var option in root.Options)
        {
            if (option is VersionOption) option.Action = new VersionAction();
            if (option is HelpOption help && help.Action is HelpAction defaultHelp)
            {
                defaultHelp.MaxWidth = 110; // the same layout on a terminal, in a pipe and in the man page
                help.Action = new RootHelpAction(defaultHelp);
            }
        }
        root.SetAction(result =>
        {
            result.Err().WriteLine("fasttun: which command? (fasttun --help lists them)");
            return ExitUsage;
        });
        return root;
    }

    public static int Run(string[] args) => Run(args, Console.Out, Console.Error);

    public static int Run(string[] args, TextWriter output, TextWriter error) =>
        Run(Build(args.Length > 0 ? args[0] : null), args, output, error);

    /// <summary>A root holding one command, so a test can parse and run that command alone.</summary>
    public static RootCommand Single(Command command)
    {
        var root = new RootCommand("fasttun") { command };
        return root;
    }

    public static int Run(RootCommand root, string[] args, TextWriter output, TextWriter error)
    {
        var result = root.Parse(args);
        var invocation = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
        if (result.Errors.Count > 0 && result.Action is not CommandLineAction { ClearsParseErrors: true })
        {
            string path = result.CommandPath();
            string prefix = path.Length == 0 ? "fasttun" : $"fasttun {path}";
            foreach (var e in result.Errors) error.WriteLine($"{prefix}: {Reword(e.Message)}");
            error.WriteLine($"see '{prefix} --help'");
            return ExitUsage;
        }
        return result.Invoke(invocation);
    }

    /// <summary>System.CommandLine's own messages, in FastTun's words where they differ.</summary>
    private static string Reword(string message) =>
        message.StartsWith("Unrecognized command or argument", StringComparison.Ordinal)
            ? "unknown command or argument" + message["Unrecognized command or argument".Length..]
            : message;

    private sealed class VersionAction : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            parseResult.Out().WriteLine($"fasttun {Version}");
            return ExitOk;
        }
    }

    private sealed class RootHelpAction(HelpAction inner) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            int code = inner.Invoke(parseResult);
            if (parseResult.CommandResult.Parent is null) parseResult.Out().Write(ConfigurationHelp);
            return code;
        }
    }
}
