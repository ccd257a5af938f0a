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
          fasttun run --config FILE [--log-level LEVEL]
                                     own the configured interfaces and forward; SIGHUP reloads,
                                     SIGINT/SIGTERM stop cleanly (XDP programs detached)
          fasttun check --config FILE [--log-level LEVEL]
                                     validate a configuration and print what it would build:
                                     interfaces, tunnels, routes; exit 0 valid, 1 invalid, 2 usage
          fasttun gen --iface X --dst IP[:PORT] [--size N] [--rate PPS|max] [--flows N] [--duration S] ...
                                     UDP test traffic with sequence numbers and timestamps over af_xdp or
                                     af_packet, optionally in IPIP/GRE/VXLAN (fasttun gen --help)
          fasttun sink --iface X [--duration S] [--ip A] [--json]
                                     count test traffic: rate, loss, reordering, duplicates, latency
          fasttun bench rfc2544 --tx-iface X --rx-iface Y --size S --duration S [--loss 0] ...
                                     binary search for the highest zero-loss rate (fasttun bench --help)
          fasttun --help             show this help
          fasttun --version          show the version

        Configuration: VyOS 1.2 'set' lines (show configuration commands), for example
          set interfaces ethernet eth2 address '172.12.1.10/24'
          set interfaces tunnel tun0 encapsulation 'ipip'        (ipip or gre)
          set interfaces tunnel tun0 local-ip '172.12.1.10'
          set interfaces tunnel tun0 remote-ip '172.12.1.11'
          set interfaces tunnel tun0 address '1.1.1.1/24'
          set interfaces tunnel tun0 parameters ip key|ikey|okey K   ttl N|inherit   tos XX|inherit
          set interfaces tunnel tun0 parameters ip checksum | sequence   (also input-/output- forms)
          set interfaces tunnel tun0 parameters ip pmtu-discovery enable|disable
          set protocols static route 10.1.8.0/24 next-hop 1.1.1.2 [distance N]
        plus FastTun's own lines:
          set fasttun interface eth1 driver af_xdp|af_packet
          set fasttun interface eth1 queues N
          set fasttun workers N
          set fasttun control-socket PATH
          set fasttun neighbor 10.1.5.10 mac aa:bb:cc:dd:ee:ff   (and: neighbor A interface NAME)
        'system ...', duplex, speed, smp-affinity and 'interfaces loopback lo' are accepted and ignored.

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
            case "run":
                return RunCommand.Run(args.AsSpan(1));
            case "check":
                return CheckCommand.Run(args.AsSpan(1), Console.Out, Console.Error);
            case "gen":
                return GenCommand.Run(args.AsSpan(1));
            case "sink":
                return SinkCommand.Run(args.AsSpan(1));
            case "bench":
                return BenchCommand.Run(args.AsSpan(1));
            case "-V" or "--version" or "version":
                Console.Out.WriteLine($"fasttun {Version}");
                return ExitOk;
            default:
                Console.Error.WriteLine($"fasttun: unknown command '{args[0]}' (see fasttun --help)");
                return ExitUsage;
        }
    }
}
