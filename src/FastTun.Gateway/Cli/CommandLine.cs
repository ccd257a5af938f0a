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
          fasttun run --config FILE [--format set|boot|iproute2] [--control-socket PATH] [--metrics 127.0.0.1:9464] [--log-level LEVEL]
                                     own the configured interfaces and forward; SIGHUP reloads,
                                     SIGINT/SIGTERM stop cleanly (XDP programs detached); --metrics
                                     serves Prometheus text on GET /metrics (loopback only)
          fasttun check --config FILE [--format set|boot|iproute2] [--log-level LEVEL]
                                     validate a configuration and print what it would build:
                                     interfaces, tunnels, routes; exit 0 valid, 1 invalid, 2 usage
          fasttun diff A.pcapng B.pcapng [--ignore FIELD,...] [--json]
                                     compare two captures field by field (a Linux tunnel's and
                                     FastTun's); exit 0 same, 1 different (fasttun diff --help)
          fasttun gen --iface X --dst IP[:PORT] [--size N] [--rate PPS|max] [--flows N] [--duration S] ...
                                     UDP test traffic with sequence numbers and timestamps over af_xdp or
                                     af_packet, optionally in IPIP/GRE/VXLAN (fasttun gen --help)
          fasttun sink --iface X [--duration S] [--ip A] [--json]
                                     count test traffic: rate, loss, reordering, duplicates, latency
          fasttun bench rfc2544 --tx-iface X --rx-iface Y --size S --duration S [--loss 0] ...
                                     binary search for the highest zero-loss rate (fasttun bench --help)
          fasttun bench worker --mode ipip|gre|decap|forward [--routes N] [--frame 64|1500] [--json]
                                     the worker loop over in-memory zero-copy NIC queues: ns/packet on one core

        Talking to a running gateway (root only; socket from --control-socket PATH, default
        /run/fasttun/fasttun.sock, or 'set fasttun control-socket PATH' on the gateway's side):
          fasttun show interfaces|tunnels|routes|neighbors|stats [--json]
          fasttun stats [--watch [--interval S] [--count N]] [--json]
                                     counters; --watch refreshes pps/bps rates until Ctrl-C
          fasttun route add PREFIX via NEXTHOP | route del PREFIX
          fasttun neighbor add IP mac MAC [dev NAME] | neighbor del IP [dev NAME]
          fasttun tunnel set NAME [ttl N|inherit] [tos XX|inherit] [key K] [pmtu-discovery on|off]
          fasttun config show [--format set|boot|iproute2] [--config FILE]
                                     print the running (or a given) configuration as VyOS set lines,
                                     VyOS config.boot or iproute2 commands; each loads back unchanged
          fasttun reload             re-read the configuration file (as SIGHUP); prints the error if refused
          fasttun capture --point rx|tx|drop|decap|encap [--iface NAME] [--count N] [--duration S]
                          -w FILE.pcapng
                                     live capture at a processing point; drops carry their reason
        Runtime changes (route, neighbor, tunnel set) override the file until restart and survive reloads.

          fasttun --help             show this help
          fasttun --version          show the version

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
            case "show":
                return ShowCommand.Run(args.AsSpan(1), Console.Out, Console.Error);
            case "stats":
                return ShowCommand.Run(["stats", .. args.AsSpan(1)], Console.Out, Console.Error);
            case "route" or "neighbor" or "neighbour" or "tunnel" or "reload":
                return ChangeCommands.Run(args[0], args.AsSpan(1), Console.Out, Console.Error);
            case "capture":
                return CaptureCommand.Run(args.AsSpan(1), Console.Out, Console.Error);
            case "config":
                return ConfigCommand.Run(args.AsSpan(1), Console.Out, Console.Error);
            case "diff":
                return DiffCommand.Run(args.AsSpan(1), Console.Out, Console.Error);
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
