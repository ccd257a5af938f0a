using FastTun.Packets.Headers;
using System.Globalization;
using System.Text;
using FastTun.Gateway.Config;
using Microsoft.Extensions.Logging;

namespace FastTun.Gateway.Cli;

/// <summary>
/// <c>fasttun check --config FILE</c>: validates a configuration and prints what <c>fasttun run</c> would build.
/// Exit 0 when valid, 1 with every error on stderr when not, 2 on a usage error or an unreadable file.
/// </summary>
public static class CheckCommand
{
    public static int Run(ReadOnlySpan<string> args, TextWriter stdout, TextWriter stderr, ILoggerFactory? loggerFactory = null)
    {
        string? path = null;
        ConfigFormat? format = null;
        var level = LogLevel.Information;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string? value = null;
            int eq = a.IndexOf('=');
            if (a.StartsWith("--", StringComparison.Ordinal) && eq > 0) (a, value) = (a[..eq], a[(eq + 1)..]);
            switch (a)
            {
                case "--config" or "-c" or "--log-level" or "--format":
                    if (value is null)
                    {
                        if (i + 1 >= args.Length) return Usage(stderr, $"{a} needs a value");
                        value = args[++i];
                    }
                    if (a == "--log-level")
                    {
                        if (!Logging.TryParseLevel(value, out level)) return Usage(stderr, $"unknown log level '{value}'");
                    }
                    else if (a == "--format")
                    {
                        if (!ConfigFormats.TryParse(value, out var known)) return Usage(stderr, $"--format wants set, boot or iproute2, not '{value}'");
                        format = known;
                    }
                    else path = value;
                    break;
                case "-h" or "--help":
                    stdout.Write(CommandLine.Usage);
                    return CommandLine.ExitOk;
                default:
                    return Usage(stderr, $"unknown argument '{args[i]}'");
            }
        }
        if (string.IsNullOrEmpty(path)) return Usage(stderr, "missing --config FILE");
        ConfigFormat? inputFormat = format;
        if (Directory.Exists(path)) return Usage(stderr, $"'{path}' is a directory, not a configuration file");
        if (!File.Exists(path)) return Usage(stderr, $"configuration file '{path}' not found");

        // The factory is disposed before anything is printed, which flushes the console logger's queue:
        // the log lines (ignored lines, warnings) then come before the report or the error list.
        ILoggerFactory factory = loggerFactory ?? Logging.CreateFactory(level);
        GatewayConfig? config = null;
        IReadOnlyList<ConfigDiagnostic>? errors = null;
        string? readError = null;
        try
        {
            config = GatewayConfig.Load(path, factory.CreateLogger("fasttun.config"), inputFormat);
        }
        catch (ConfigException e)
        {
            errors = e.Errors;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            readError = e.Message;
        }
        finally
        {
            if (loggerFactory is null) factory.Dispose();
        }
        if (readError is not null) return Usage(stderr, $"cannot read '{path}': {readError}");
        if (errors is not null)
        {
            stderr.WriteLine($"fasttun check: {path} is invalid ({errors.Count} error{(errors.Count == 1 ? "" : "s")}):");
            foreach (var error in errors) stderr.WriteLine($"  {error}");
            return CommandLine.ExitError;
        }
        stdout.Write(Describe(config!));
        return CommandLine.ExitOk;
    }

    private static int Usage(TextWriter stderr, string message)
    {
        stderr.WriteLine($"fasttun check: {message}");
        stderr.WriteLine("usage: fasttun check --config FILE [--format set|boot|iproute2] [--log-level LEVEL]");
        return CommandLine.ExitUsage;
    }

    /// <summary>The report <c>check</c> prints; routes and tunnels are shown as ip route / ip tunnel would show them.</summary>
    public static string Describe(GatewayConfig config)
    {
        var s = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        s.AppendLine(inv, $"{config.Source}: valid");
        s.AppendLine("interfaces:");
        if (config.Interfaces.IsEmpty) s.AppendLine("  none");
        foreach (var e in config.Interfaces)
        {
            string addresses = e.Addresses.IsEmpty ? "no address" : string.Join(' ', e.Addresses);
            string mtu = e.MtuConfigured ? $"mtu {e.Mtu}" : $"mtu {e.Mtu} (unset: assumed here, the kernel's MTU applies at run time)";
            string driver = e.Driver == PortDriver.AfXdp ? "af_xdp" : "af_packet";
            s.AppendLine(inv, $"  {e.Name}: {addresses} {mtu} driver {driver} queues {e.Queues}{(e.HwId is { } id ? $" hw-id {StaticNeighbor.FormatMac(id)}" : "")}{(e.Description is { } d ? $" description \"{d}\"" : "")}");
        }
        s.AppendLine("tunnels:");
        if (config.Tunnels.IsEmpty) s.AppendLine("  none");
        foreach (var t in config.Tunnels)
        {
            s.AppendLine(inv, $"  {t.Name}: {(t.Mode == TunnelMode.Ipip ? "ipip/ip" : "gre/ip")} remote {Ipv4Address.Format(t.Remote)} local {Ipv4Address.Format(t.Local)} dev {t.Underlay} {TunnelOptions(t)}");
            string nextHop = t.UnderlayNextHop == t.Remote ? "" : $" via {Ipv4Address.Format(t.UnderlayNextHop)}";
            s.AppendLine(inv, $"    {(t.Addresses.IsEmpty ? "no address" : string.Join(' ', t.Addresses))} mtu {t.Mtu}{(t.MtuConfigured ? "" : $" (underlay mtu - {t.Overhead})")} outer packets to {Ipv4Address.Format(t.Remote)}{nextHop} dev {t.Underlay}");
        }
        s.AppendLine("routes:");
        var routes = new List<(uint Prefix, int Length, string Text)>();
        routes.AddRange(config.ConnectedRoutes.Select(c => (c.Prefix, c.PrefixLength, c.ToString())));
        routes.AddRange(config.StaticRoutes.Select(r => (r.Prefix, r.PrefixLength, $"{r} proto static distance {r.Distance}")));
        if (routes.Count == 0) s.AppendLine("  none");
        foreach (var r in routes.OrderBy(r => r.Prefix).ThenBy(r => r.Length)) s.AppendLine(inv, $"  {r.Text}");
        s.AppendLine("neighbors:");
        if (config.Neighbors.IsEmpty) s.AppendLine("  none static (resolved by ARP)");
        foreach (var n in config.Neighbors)
            s.AppendLine(inv, $"  {Ipv4Address.Format(n.Address)} dev {n.Interface} lladdr {StaticNeighbor.FormatMac(n.Mac)} PERMANENT");
        // One worker serves one queue of every interface, so there are as many workers as queues per interface.
        int queues = config.Interfaces.IsEmpty ? 0 : config.Interfaces.Max(e => e.Queues);
        s.AppendLine(inv, $"workers: {(config.Workers is { } w ? w.ToString(inv) : $"one per queue ({queues}), each serving that queue of every interface")}");
        s.AppendLine(inv, $"control socket: {config.ControlSocket ?? "none"}");
        s.AppendLine(inv, $"ignored lines: {config.IgnoredLines}");
        s.AppendLine(inv, $"warnings: {config.Warnings.Length}");
        foreach (var warning in config.Warnings) s.AppendLine(inv, $"  {warning}");
        return s.ToString();
    }

    /// <summary>The options in ip tunnel show's words: ttl, tos, pmtudisc, [i|o]key, [i|o]csum, [i|o]seq.</summary>
    private static string TunnelOptions(Tunnel t)
    {
        var o = new List<string>
        {
            t.Ttl == 0 ? "ttl inherit" : $"ttl {t.Ttl}",
            $"tos {t.Tos}",
            t.PathMtuDiscovery ? "pmtudisc" : "nopmtudisc",
        };
        if (t.InputKey == t.OutputKey && t.InputKey is { } key) o.Add($"key {key}");
        else
        {
            if (t.InputKey is { } ikey) o.Add($"ikey {ikey}");
            if (t.OutputKey is { } okey) o.Add($"okey {okey}");
        }
        Both(o, t.InputChecksum, t.OutputChecksum, "csum");
        Both(o, t.InputSequence, t.OutputSequence, "seq");
        return string.Join(' ', o);
    }

    private static void Both(List<string> o, bool input, bool output, string word)
    {
        if (input && output) o.Add(word);
        else if (input) o.Add("i" + word);
        else if (output) o.Add("o" + word);
    }
}
