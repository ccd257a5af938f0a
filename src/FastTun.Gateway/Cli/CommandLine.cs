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
    private static readonly (string Name, Func<string?, IEnumerable<Command>> Build)[] Commands =
    [
        ("run", _ => [RunCommand.Build()]),
        ("check", _ => [CheckCommand.Build()]),
        ("show", second => [ShowCommand.Build(second)]),
        ("stats", _ => [ShowCommand.BuildStats("stats")]),
        ("route neighbor neighbour tunnel reload", _ => ChangeCommands.Build()),
        ("capture", _ => [CaptureCommand.Build()]),
        ("config", _ => [ConfigCommand.Build()]),
        ("diff", _ => [DiffCommand.Build()]),
        ("gen", _ => [GenCommand.Build()]),
        ("sink", _ => [SinkCommand.Build()]),
        ("bench", _ => [BenchCommand.Build()]),
        ("completion", _ => [CompletionCommand.Build()]),
    ];

    /// <summary>Builds the command tree: all of it, or with <paramref name="first"/> naming a command, only that
    /// command (a short command such as show stats then skips building, and JIT-compiling, every other
    /// command's options; an unknown word gets the whole tree and its error). <paramref name="second"/> lets a
    /// command with subcommands build only the one named (show does).</summary>
    public static Command Build(string? first = null, string? second = null)
    {
        bool one = false;
        if (first is not null)
            foreach (var (name, _) in Commands)
                one |= IsNamed(name, first);
        // Only that command's words can follow, so the root's own --version and --help (and directives such as
        // [suggest:N], which need a RootCommand) cannot: the root is a plain Command with the same recursive --help.
        // RootCommand's constructor reads its two option descriptions through System.CommandLine's ResourceManager,
        // about 5 ms of CPU at start-up (RESULTS, startup section).
        var root = one ? new Command(RootCommand.ExecutableName, Description) { LeanHelp() } : new RootCommand(Description);
        foreach (var (name, build) in Commands)
            if (!one || IsNamed(name, first!))
                foreach (var command in build(one ? second : null)) root.Subcommands.Add(command);
        foreach (var option in root.Options)
        {
            if (option is VersionOption) option.Action = new VersionAction();
            if (option is HelpOption help && help.Action is HelpAction defaultHelp)
            {
                defaultHelp.MaxWidth = HelpWidth;
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

    private const string Description = "fasttun — userspace IPIP/GRE gateway (AF_XDP / AF_PACKET)";
    private const int HelpWidth = 110; // the same layout on a terminal, in a pipe and in the man page

    private static bool IsNamed(string names, string word)
    {
        foreach (var name in names.Split(' '))
            if (name == word) return true;
        return false;
    }

    /// <summary>What <see cref="HelpOption"/> is, with its English description given here instead of read from
    /// System.CommandLine's resources: the same aliases, recursion, help text and action.</summary>
    private static Option<bool> LeanHelp() => new("--help", "-h", "/h", "-?", "/?")
    {
        Description = "Show help and usage information",
        Recursive = true,
        Arity = ArgumentArity.Zero,
        Action = new RootHelpAction(new HelpAction { MaxWidth = HelpWidth }),
    };

    public static int Run(string[] args) => Run(args, Console.Out, Console.Error);

    public static int Run(string[] args, TextWriter output, TextWriter error) =>
        Run(Build(args.Length > 0 ? args[0] : null, args.Length > 1 ? args[1] : null), args, output, error);

    /// <summary>A root holding one command, so a test can parse and run that command alone.</summary>
    public static RootCommand Single(Command command)
    {
        var root = new RootCommand("fasttun") { command };
        return root;
    }

    public static int Run(Command root, string[] args, TextWriter output, TextWriter error)
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
