using System.Collections.Immutable;
using Microsoft.Extensions.Logging;

namespace FastTun.Gateway.Config;

/// <summary>
/// A validated gateway configuration: what <c>fasttun run</c> builds and <c>fasttun check</c> prints.
/// Immutable, and free of Linux types; the gateway maps it to ports, tunnels and route tables.
/// Read from VyOS <c>set</c> lines (see <see cref="ConfigParser"/> for the grammar) and checked like a
/// VyOS 1.2 commit (see <see cref="ConfigValidator"/>).
/// </summary>
public sealed class GatewayConfig
{
    internal GatewayConfig(
        string source,
        ImmutableArray<EthernetInterface> interfaces,
        ImmutableArray<Tunnel> tunnels,
        ImmutableArray<StaticRoute> staticRoutes,
        ImmutableArray<StaticNeighbor> neighbors,
        int? workers,
        string? controlSocket,
        int ignoredLines,
        ImmutableArray<ConfigDiagnostic> warnings)
    {
        Source = source;
        Interfaces = interfaces;
        Tunnels = tunnels;
        StaticRoutes = staticRoutes;
        Neighbors = neighbors;
        Workers = workers;
        ControlSocket = controlSocket;
        IgnoredLines = ignoredLines;
        Warnings = warnings;
        var connected = ImmutableArray.CreateBuilder<ConnectedRoute>();
        foreach (var e in interfaces)
            foreach (var a in e.Addresses) connected.Add(new ConnectedRoute(a.Network, a.PrefixLength, a.Address, e.Name));
        foreach (var t in tunnels)
            foreach (var a in t.Addresses) connected.Add(new ConnectedRoute(a.Network, a.PrefixLength, a.Address, t.Name));
        ConnectedRoutes = connected.ToImmutable();
    }

    /// <summary>The file name (or other source name) the configuration was read from.</summary>
    public string Source { get; }
    public ImmutableArray<EthernetInterface> Interfaces { get; }
    public ImmutableArray<Tunnel> Tunnels { get; }
    /// <summary>One subnet per interface or tunnel address, in configuration order.</summary>
    public ImmutableArray<ConnectedRoute> ConnectedRoutes { get; }
    /// <summary>The installed static routes: the lowest-distance next-hop of each prefix.</summary>
    public ImmutableArray<StaticRoute> StaticRoutes { get; }
    /// <summary>Floating static routes: the candidates of a prefix above its lowest distance, one entry per
    /// distance (ECMP paths together), lowest first. Installed only while the preferred paths are withdrawn (a
    /// tunnel that keepalive took down).</summary>
    public ImmutableArray<StaticRoute> StandbyRoutes { get; init; } = [];
    public ImmutableArray<StaticNeighbor> Neighbors { get; }
    /// <summary>The configured worker count, or null for one worker per port queue.</summary>
    public int? Workers { get; }
    public string? ControlSocket { get; }
    /// <summary>Reverse-path filter for every received packet (<c>set fasttun rp-filter</c>); Linux's meanings.</summary>
    public Packets.Datapath.RpFilterMode RpFilter { get; init; } = Packets.Datapath.RpFilterMode.Loose;
    /// <summary>Service user to switch to after setup when started as root (<c>set fasttun user</c>), or null.</summary>
    public string? User { get; init; }
    /// <summary><c>set fasttun icmp-unreachable-for-unknown-tunnels</c>: whether an IPIP/GRE packet to one of our
    /// addresses that matches no tunnel (a wrong or missing GRE key included) gets ICMP port unreachable, as
    /// Linux answers (default), or is dropped in silence. Counted under its drop reason either way.</summary>
    public bool UnknownTunnelUnreachable { get; init; } = true;
    /// <summary>Lines accepted without effect (system, duplex, speed, smp-affinity, loopback), each logged.</summary>
    public int IgnoredLines { get; }
    /// <summary>Problems that VyOS and the kernel accept but that deserve attention; also logged.</summary>
    public ImmutableArray<ConfigDiagnostic> Warnings { get; }

    public EthernetInterface? FindInterface(string name)
    {
        foreach (var e in Interfaces) if (e.Name == name) return e;
        return null;
    }

    /// <summary>True when <paramref name="other"/> describes the same gateway: interfaces, tunnels, routes,
    /// neighbours, workers and control socket, whatever file, format, comments or ignored lines it came from.</summary>
    public bool SameModel(GatewayConfig other) =>
        Interfaces.SequenceEqual(other.Interfaces) && Tunnels.SequenceEqual(other.Tunnels)
        && StaticRoutes.SequenceEqual(other.StaticRoutes) && StandbyRoutes.SequenceEqual(other.StandbyRoutes)
        && Neighbors.SequenceEqual(other.Neighbors)
        && Workers == other.Workers && ControlSocket == other.ControlSocket
        && UnknownTunnelUnreachable == other.UnknownTunnelUnreachable;

    public Tunnel? FindTunnel(string name)
    {
        foreach (var t in Tunnels) if (t.Name == name) return t;
        return null;
    }

    /// <summary>The format the configuration was read from.</summary>
    public ConfigFormat Format { get; private set; }

    /// <summary>Reads and validates a file. Throws <see cref="ConfigException"/> listing every error,
    /// <see cref="FileNotFoundException"/> or another <see cref="IOException"/> when it cannot be read.</summary>
    /// <param name="format">The file's format, or null to detect it from the content (<see cref="ConfigFormats.Detect"/>).</param>
    public static GatewayConfig Load(string path, ILogger logger, ConfigFormat? format = null) =>
        Parse(File.ReadAllText(path), path, logger, format);

    /// <summary>Parses and validates configuration text; <paramref name="sourceName"/> prefixes every message.</summary>
    public static GatewayConfig Parse(string text, string sourceName, ILogger logger, ConfigFormat? format = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(logger);
        var errors = new List<ConfigDiagnostic>();
        var kind = format ?? ConfigFormats.Detect(text);
        var draft = kind switch
        {
            ConfigFormat.Boot => ConfigBootReader.Parse(text, sourceName, logger, errors),
            ConfigFormat.Iproute2 => Iproute2Reader.Parse(text, sourceName, logger, errors),
            _ => ConfigParser.Parse(text, sourceName, logger, errors),
        };
        var config = ConfigValidator.Validate(draft, sourceName, logger, errors);
        if (errors.Count > 0)
        {
            throw new ConfigException([.. errors.OrderBy(e => e.Line)]);
        }
        config!.Format = kind;
        return config;
    }
}
