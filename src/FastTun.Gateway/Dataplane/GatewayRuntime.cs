using FastTun.Gateway.Config;
using FastTun.Linux.AfPacket;
using FastTun.Linux.AfXdp;
using FastTun.Linux.Ports;
using FastTun.Packets.Datapath;
using Microsoft.Extensions.Logging;
using PacketsIpv4 = FastTun.Packets.Headers.Ipv4Address;

namespace FastTun.Gateway.Dataplane;

/// <summary>
/// The running gateway: owns the interfaces of a configuration, one worker per queue, the shared neighbour
/// table and the current <see cref="ForwardingState"/>. Control-plane operations (reload, route changes,
/// neighbour changes, statistics) run on other threads and publish new state that workers pick up at their
/// next batch.
/// </summary>
public sealed partial class GatewayRuntime : IDisposable
{
    private readonly ILogger _logger;
    private readonly List<Worker> _workers = new();
    private int _workerSlots = Packets.Tunnels.Tunnel.MaxWorkers;
    private readonly List<InterfaceLock> _locks = new();
    private readonly object _controlLock = new();
    private ForwardingState _state;
    private PortFacts[] _facts = [];
    private Timer? _agingTimer;
    private TunnelHandoff? _handoff;

    private GatewayRuntime(string configPath, GatewayConfig config, ILogger logger)
    {
        ConfigPath = configPath;
        Config = config;
        _logger = logger;
        _state = null!;
    }

    public string ConfigPath { get; }
    /// <summary>The format named with <c>run --format</c>, or null when it is detected from the content.</summary>
    public ConfigFormat? ConfigFormat { get; private init; }
    public GatewayConfig Config { get; private set; }
    public NeighborTable Neighbors { get; } = new();
    /// <summary>The state workers read; acquire pairs with the release in <see cref="Publish"/>.</summary>
    public ForwardingState State => Volatile.Read(ref _state);
    public IReadOnlyList<Worker> Workers => _workers;
    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;

    /// <summary>Loads <paramref name="configPath"/>, takes over its interfaces and starts forwarding.</summary>
    /// <param name="format">The file's format, or null to detect it (also on every reload).</param>
    public static GatewayRuntime Start(string configPath, ILoggerFactory loggers, ConfigFormat? format = null)
    {
        var logger = loggers.CreateLogger("fasttun");
        var config = GatewayConfig.Load(configPath, loggers.CreateLogger("config"), format);
        var runtime = new GatewayRuntime(configPath, config, logger) { ConfigFormat = format };
        try
        {
            runtime.Open(loggers);
            return runtime;
        }
        catch
        {
            runtime.Dispose();
            throw;
        }
    }

    private void Open(ILoggerFactory loggers)
    {
        var interfaces = Config.Interfaces;
        if (interfaces.IsEmpty) throw new InvalidOperationException($"{ConfigPath}: no ethernet interface configured");
        int queues = interfaces[0].Queues;
        if (interfaces.Any(i => i.Queues != queues))
            throw new InvalidOperationException("every interface needs the same number of queues: one worker serves one queue of each");
        if (Config.Workers is int workers && workers != queues)
            throw new InvalidOperationException($"'set fasttun workers {workers}' does not match {queues} queue(s) per interface: one worker serves one queue of every interface, so set the queues instead");

        Privileges.CheckBeforeSetup(Config); // edge hook: capabilities, not the uid
        // edge hook: one owner per interface; taken before anything touches an interface.
        foreach (var iface in interfaces) _locks.Add(InterfaceLock.Acquire(iface.Name));

        _facts = new PortFacts[interfaces.Length];
        for (int i = 0; i < interfaces.Length; i++)
        {
            var iface = KernelGuard.Prepare(interfaces[i].Name, _logger);
            if (iface.RxQueues < queues)
                throw new InvalidOperationException($"{iface.Name} has {iface.RxQueues} rx queue(s); the configuration asks for {queues}");
            ulong mac = NeighborEntry.ReadMac(iface.Mac);
            if (interfaces[i].HwId is ulong hw && hw != mac)
                _logger.LogWarning("{Interface}: hw-id {Configured} differs from the kernel's MAC {Actual}; using the kernel's",
                    iface.Name, NeighborEntry.FormatMac(hw), iface.MacText);
            _facts[i] = new PortFacts(iface.Name, mac, iface.Mtu);
        }

        _workerSlots = queues; // fixed for the process: tunnels keep counter lines for exactly these workers
        lock (_controlLock) Rebuild(Config);
        // Several workers: a sequenced GRE tunnel is encapsulated by one of them, the others hand it its packets.
        if (queues > 1)
            _handoff = new TunnelHandoff(queues, maxPacket: Math.Max(1500, State.Ports.Max(p => p.Mtu))) { Wake = w => _workers[w].Wake() };

        for (int w = 0; w < queues; w++)
        {
            var ports = new PacketPort[interfaces.Length];
            // One UMEM per worker for all its AF_XDP ports: a frame forwarded between them moves as a descriptor.
            using XdpUmem? umem = SharedUmemFor(interfaces);
            try
            {
                for (int i = 0; i < interfaces.Length; i++) ports[i] = OpenPort(interfaces[i], w, (ushort)i, queues, umem, loggers);
            }
            catch
            {
                foreach (var p in ports) p?.Dispose();
                throw;
            }
            var pipeline = new Packets.Datapath.Pipeline(() => State, Neighbors, worker: w, workers: queues, handoff: _handoff)
            {
                Keepalives = KeepaliveOutboxFor(w), // keepalive hook: probes the monitor posts to this worker
            };
            _workers.Add(new Worker(w, ports, pipeline, handoff: _handoff));
        }
        foreach (var w in _workers) w.Start();
        StartKeepalive(loggers);
        _agingTimer = new Timer(_ =>
        {
            Neighbors.Age(Environment.TickCount64);
            ReportOffloadOnce(); // edge hook: partial checksums logged once with the remedy
        }, null, 1000, 1000);
        LogSummary();
    }

    private PacketPort OpenPort(EthernetInterface iface, int queue, ushort id, int queues, XdpUmem? umem, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger("port");
        if (iface.Driver == PortDriver.AfXdp)
            return new AfXdpPort(iface.Name, queue, id, XdpIoMode.Options(), logger, umem);
        var options = new AfPacketOptions { FanoutGroup = queues > 1 ? 0x4654 + id : null, KernelIngressDrop = true,
            IngressShed = queues == 1 && IngressShed.Enabled(Environment.GetEnvironmentVariable(IngressShed.Variable)) };   // e2e5/lat6: overload shed, on unless FASTTUN_AFPACKET_SHED=0, bad values refused
        var port = new AfPacketPort(iface.Name, id, options, queue);
        logger.LogInformation("AF_PACKET {Interface} socket {Queue}: TPACKET_V3 rx ring, tx {TxMode}, {Fanout}, kernel ingress {Ingress}",
            iface.Name, queue, options.TxMode, queues > 1 ? $"fanout group {options.FanoutGroup}" : "no fanout",
            port.KernelIngressDropped ? "dropped behind the socket" : $"not dropped ({port.KernelIngressDropError})");
        if (options.IngressShed) logger.LogInformation("AF_PACKET {Interface}: overload shed {Shed}", iface.Name,   // e2e2
            port.Shed is { } shed ? (shed.Native ? "native XDP" : "generic XDP") : $"off ({port.IngressShedError})");
        return port;
    }

    /// <summary>A UMEM big enough for every AF_XDP port of one worker (each port's default frame budget), or null
    /// when the worker has none. The ports hold their own references; the caller disposes its own.</summary>
    private static XdpUmem? SharedUmemFor(System.Collections.Immutable.ImmutableArray<EthernetInterface> interfaces)
    {
        int xdpPorts = interfaces.Count(i => i.Driver == PortDriver.AfXdp);
        if (xdpPorts == 0) return null;
        var o = XdpIoMode.Options();
        return new XdpUmem(o.FrameSize, o.FrameCount * xdpPorts, o.UmemHeadroom);
    }

    private void LogSummary()
    {
        var s = State;
        _logger.LogInformation("fasttun {Version} running {Config}: {Interfaces} interface(s), {Tunnels} tunnel(s), {Routes} route(s), {Workers} worker(s)",
            Cli.CommandLine.Version, ConfigPath, s.Ports.Length, s.Tunnels.Length, s.Routes.Count, _workers.Count);
        foreach (var p in s.Ports)
            _logger.LogInformation("  {Name}: {Mac} mtu {Mtu} {Addresses}", p.Name, NeighborEntry.FormatMac(p.Mac), p.Mtu,
                string.Join(" ", p.Addresses.Select(a => PacketsIpv4.Format(a))));
        foreach (var t in s.Tunnels)
            _logger.LogInformation("  {Tunnel}: {Settings} mtu {Mtu} address {Address}", t.Tunnel.Name, t.Tunnel.Settings,
                t.ConfiguredMtu, PacketsIpv4.Format(t.Address));
    }

    private void Publish(ForwardingState state) => Volatile.Write(ref _state, state); // release: a worker's next batch sees it whole

    private void ApplyStaticNeighbors(GatewayConfig config)
    {
        long now = Environment.TickCount64;
        foreach (var n in config.Neighbors)
        {
            int port = config.Interfaces.IndexOf(config.FindInterface(n.Interface)!);
            Neighbors.AddStatic((ushort)port, n.Address, n.Mac, now);
        }
    }

    /// <summary>
    /// Re-reads the configuration file and swaps in its routes, tunnels and addresses atomically. Workers finish
    /// their current batch on the old state, so nothing in flight is lost. Interface changes (names, drivers,
    /// queues) need a restart and are refused, as is an invalid file; the running state stays.
    /// </summary>
    public void Reload(ILoggerFactory loggers)
    {
        lock (_controlLock)
        {
            var fresh = GatewayConfig.Load(ConfigPath, loggers.CreateLogger("config"), ConfigFormat);
            var before = Config.Interfaces.Select(i => (i.Name, i.Driver, i.Queues));
            var after = fresh.Interfaces.Select(i => (i.Name, i.Driver, i.Queues));
            if (!before.SequenceEqual(after))
                throw new InvalidOperationException("interfaces, drivers or queue counts changed: that needs a restart, not a reload");
            Rebuild(fresh); // keeps the runtime changes; see GatewayRuntime.Changes.cs
            var state = State;
            _logger.LogInformation("reloaded {Config}: {Tunnels} tunnel(s), {Routes} route(s), {Changes} runtime change(s) kept",
                ConfigPath, state.Tunnels.Length, state.Routes.Count, _routeChanges.Count + _neighborChanges.Count + _tunnelChanges.Count);
        }
    }

    /// <summary>A worker that died on a bug (never on bad input); null while all are healthy.</summary>
    public Exception? Fault => _workers.Select(w => w.Fault).FirstOrDefault(f => f is not null);

    public void Dispose()
    {
        _agingTimer?.Dispose();
        Keepalive?.Dispose();
        foreach (var w in _workers) w.Stop();
        foreach (var w in _workers) w.Dispose();
        _workers.Clear();
        foreach (var l in _locks) l.Dispose(); // after the ports (and their XDP links) are closed
        _locks.Clear();
        _handoff?.Dispose();
        _logger.LogInformation("stopped; interfaces released");
    }
}
