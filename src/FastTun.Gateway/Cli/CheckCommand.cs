using FastTun.Packets.Headers;
using System.Globalization;
using System.Text;
using FastTun.Gateway.Config;
using System.CommandLine;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastTun.Gateway.Cli;

/// <summary>
/// <c>fasttun check --config FILE</c>: validates a configuration and prints what <c>fasttun run</c> would build.
/// Exit 0 when valid, 1 with every error on stderr when not, 2 on a usage error or an unreadable file.
/// </summary>
public static class CheckCommand
{
    /// <summary>The <c>check</c> command. <paramref name="loggerFactory"/> replaces the console loggers (tests).</summary>
    public static Command Build(ILoggerFactory? loggerFactory = null)
    {
        var config = CliOptions.ConfigFile();
        var verbose = new Option<bool>("--verbose", "-v") { Description = "log what the loader does (ignored lines, warnings) on stderr" };
        var level = CliOptions.LogLevelOption("log level on stderr (default: none; --verbose is information)");
        var json = CliOptions.Json("print the result as JSON (valid or not) instead of the report");
        var format = CliOptions.ConfigFormatOption();
        var command = new Command("check", "validate a configuration and print what fasttun run would build: interfaces, " +
            "tunnels, routes, neighbors; quiet on stderr unless --verbose or --log-level; exit 0 valid, 1 invalid, 2 usage")
        {
            config, format, verbose, level, json,
        };
        command.SetAction(r => Run(r.GetValue(config)!, r.GetValue(format), r.GetValue(level) ?? (r.GetValue(verbose) ? LogLevel.Information : LogLevel.None),
            r.GetValue(json), r.Out(), r.Err(), loggerFactory));
        return command;
    }

    /// <summary>Parses <c>check</c>'s arguments (without the word check) and runs it; for tests.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, ILoggerFactory? loggerFactory = null) =>
        CommandLine.Run(CommandLine.Single(Build(loggerFactory)), ["check", .. args], stdout, stderr);

    public static int Run(string path, ConfigFormat? format, LogLevel level, bool json, TextWriter stdout, TextWriter stderr,
        ILoggerFactory? loggerFactory)
    {
        // The factory is disposed before anything is printed, which flushes the console logger's queue:
        // the log lines (ignored lines, warnings) then come before the report or the error list.
        ILoggerFactory factory = loggerFactory ?? (level == LogLevel.None ? NullLoggerFactory.Instance : Logging.CreateFactory(level));
        GatewayConfig? config = null;
        IReadOnlyList<ConfigDiagnostic>? errors = null;
        string? readError = null;
        try
        {
            config = GatewayConfig.Load(path, factory.CreateLogger("fasttun.config"), format);
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
        if (readError is not null)
        {
            stderr.WriteLine($"fasttun check: cannot read '{path}': {readError}");
            return CommandLine.ExitUsage;
        }
        if (errors is not null)
        {
            if (json) stdout.WriteLine(CheckJson.Invalid(path, errors));
            stderr.WriteLine($"fasttun check: {path} is invalid ({errors.Count} error{(errors.Count == 1 ? "" : "s")}):");
            foreach (var error in errors) stderr.WriteLine($"  {error}");
            return CommandLine.ExitError;
        }
        if (json) stdout.WriteLine(CheckJson.Valid(config!));
        else stdout.Write(Describe(config!));
        return CommandLine.ExitOk;
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
        routes.AddRange(config.StandbyRoutes.Select(r => (r.Prefix, r.PrefixLength, $"{r} proto static distance {r.Distance} standby"))); // keepalive hook
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
        if (t.Keepalive is { } k) o.Add($"keepalive {k.IntervalSeconds} {k.Retries}"); // keepalive hook
        return string.Join(' ', o);
    }

    private static void Both(List<string> o, bool input, bool output, string word)
    {
        if (input && output) o.Add(word);
        else if (input) o.Add("i" + word);
        else if (output) o.Add("o" + word);
    }
}
