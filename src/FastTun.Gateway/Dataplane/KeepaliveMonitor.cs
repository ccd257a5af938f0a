using FastTun.Gateway.Config;
using FastTun.Packets.Datapath;
using Microsoft.Extensions.Logging;

namespace FastTun.Gateway.Dataplane;

/// <summary>A tunnel's keepalive as <c>show tunnels</c>, the JSON and Prometheus report it.</summary>
public sealed record KeepaliveStatus(KeepaliveSettings Settings, KeepaliveState State, int Missed, long Transitions,
    DateTimeOffset? LastChange);

/// <summary>
/// The control-plane side of GRE keepalive: a timer (every <see cref="PollMs"/>) that runs each keepalive tunnel's
/// <see cref="KeepaliveMachine"/>, posts the probes it asks for to the worker that owns the tunnel's
/// encapsulation (<see cref="Packets.Tunnels.KeepaliveOutbox"/>, one per worker), and turns transitions into route changes
/// (<see cref="GatewayRuntime.SetTunnelDown"/>: the state is rebuilt without the tunnel's routes, so a floating
/// static route takes over) and one log line each. Nothing here runs on the packet path.
/// </summary>
public sealed class KeepaliveMonitor : IDisposable
{
    public const int PollMs = 100;

    private readonly GatewayRuntime _runtime;
    private readonly ILogger _logger;
    private readonly Packets.Tunnels.KeepaliveOutbox[] _outboxes;
    private readonly Dictionary<string, KeepaliveMachine> _machines = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly Func<long> _clockMs;
    private Timer? _timer;
    private GatewayConfig? _seenConfig;

    /// <param name="clockMs">Monotonic milliseconds (tests inject their own).</param>
    public KeepaliveMonitor(GatewayRuntime runtime, Packets.Tunnels.KeepaliveOutbox[] outboxes, ILogger logger, Func<long>? clockMs = null)
    {
        _runtime = runtime;
        _outboxes = outboxes;
        _logger = logger;
        _clockMs = clockMs ?? (() => Environment.TickCount64);
    }

    /// <summary>Takes the configuration in at once (show tunnels reports keepalive from the first request on),
    /// then polls every <see cref="PollMs"/>.</summary>
    public void Start()
    {
        _timer = new Timer(_ => Poll(), null, Timeout.Infinite, Timeout.Infinite);
        Poll();
    }

    /// <summary>The configuration changed (reload, <c>tunnel set</c>, a rebuild): poll now, which also starts the
    /// timer again if the new configuration has keepalive tunnels.</summary>
    public void ConfigChanged() => _timer?.Change(0, PollMs);

    /// <summary>True while the timer runs: only when some tunnel has keepalive. A gateway without keepalive keeps
    /// no timer waking it ten times a second (idle CPU).</summary>
    public bool Polling { get; private set; }

    /// <summary>The keepalive of tunnel <paramref name="name"/>, or null when it has none.</summary>
    public KeepaliveStatus? StatusOf(string name)
    {
        lock (_lock)
        {
            if (!_machines.TryGetValue(name, out var m)) return null;
            return new KeepaliveStatus(m.Settings, m.State, m.Missed, m.Transitions,
                m.LastChangeMs is long ms ? DateTimeOffset.UtcNow - TimeSpan.FromMilliseconds(_clockMs() - ms) : null);
        }
    }

    /// <summary>One pass: every keepalive tunnel's machine at the current time. Overlapping timer callbacks skip.</summary>
    public void Poll()
    {
        if (!_lock.TryEnter()) return;
        var changes = new List<(string Name, bool Down, KeepaliveMachine Machine)>();
        bool idle;
        try
        {
            long now = _clockMs();
            var config = _runtime.Config;
            if (!ReferenceEquals(config, _seenConfig)) Reconfigure(config, now, changes);
            var state = _runtime.State;
            // No keepalive configured: nothing to walk (the changes a reconfiguration made still apply below).
            foreach (var path in _machines.Count == 0 ? [] : state.Tunnels)
            {
                var tunnel = path.Tunnel;
                if (!_machines.TryGetValue(tunnel.Name, out var machine)) continue;
                var step = machine.Step(now, tunnel.Keepalive.Replies);
                if ((step & KeepaliveStep.Send) != 0) Post(tunnel, machine.LastProbeId);
                if ((step & KeepaliveStep.WentDown) != 0) changes.Add((tunnel.Name, true, machine));
                if ((step & KeepaliveStep.WentUp) != 0) changes.Add((tunnel.Name, false, machine));
            }
            idle = _machines.Count == 0;
            SetPolling(!idle);
        }
        finally
        {
            _lock.Exit();
        }
        // Outside the monitor's lock: the rebuild takes the runtime's control lock.
        foreach (var (name, down, machine) in changes)
        {
            if (down)
                _logger.LogWarning("tunnel {Tunnel} keepalive: DOWN after {Missed} unanswered probes ({Interval} s apart); its routes are withdrawn",
                    name, machine.Missed, machine.Settings.IntervalSeconds);
            else
                _logger.LogInformation("tunnel {Tunnel} keepalive: UP, the remote answers again; its routes are restored", name);
            _runtime.SetTunnelDown(name, down);
        }
    }

    /// <summary>Under the monitor's lock. Stopping re-checks the configuration afterwards: a change published
    /// between this pass's read and the stop re-arms the timer itself (<see cref="ConfigChanged"/> runs after the
    /// runtime sets its new configuration), and one published before the re-check is caught here.</summary>
    private void SetPolling(bool on)
    {
        if (_timer is null || on == Polling) return;
        Polling = on;
        if (on) { _timer.Change(PollMs, PollMs); return; }
        _timer.Change(Timeout.Infinite, Timeout.Infinite);
        if (!ReferenceEquals(_runtime.Config, _seenConfig)) _timer.Change(0, PollMs);
    }

    private void Reconfigure(GatewayConfig config, long now, List<(string, bool, KeepaliveMachine)> changes)
    {
        _seenConfig = config;
        var configured = new Dictionary<string, KeepaliveSettings>(StringComparer.Ordinal);
        foreach (var t in config.Tunnels)
            if (t.Keepalive is { } k) configured[t.Name] = k;
        var state = _runtime.State;
        foreach (var (name, machine) in _machines.ToArray())
        {
            if (configured.ContainsKey(name)) continue;
            _machines.Remove(name);
            _logger.LogInformation("tunnel {Tunnel}: keepalive removed", name);
            if (machine.State == KeepaliveState.Down) changes.Add((name, false, machine)); // no keepalive: the tunnel is up
        }
        Dictionary<string, Packets.Tunnels.Tunnel>? running = null; // built once: a hub may have thousands
        foreach (var (name, settings) in configured)
        {
            if (_machines.TryGetValue(name, out var machine)) { machine.Reconfigure(settings, now); continue; }
            running ??= state.Tunnels.ToDictionary(p => p.Tunnel.Name, p => p.Tunnel, StringComparer.Ordinal);
            long replies = running.TryGetValue(name, out var tunnel) ? tunnel.Keepalive.Replies : 0;
            var fresh = new KeepaliveMachine(settings, now, replies, (ushort)Random.Shared.Next(1, 0x8000));
            _machines[name] = fresh;
            if (_runtime.DownTunnels.Contains(name)) changes.Add((name, false, fresh)); // a new machine starts up
            _logger.LogInformation("tunnel {Tunnel}: keepalive every {Interval} s, down after {Retries} unanswered", name, settings.IntervalSeconds, settings.Retries);
        }
    }

    private void Post(Packets.Tunnels.Tunnel tunnel, ushort id)
    {
        int worker = TunnelHandoff.OwnerOf(tunnel, _outboxes.Length); // the worker that owns a sequenced tunnel's numbers
        if (!_outboxes[worker].TryPost(tunnel, id))
            _logger.LogWarning("tunnel {Tunnel}: keepalive probe not queued, worker {Worker} has not taken the earlier ones", tunnel.Name, worker);
    }

    /// <summary>Tunnels that have keepalive configured (a snapshot).</summary>
    public int Count
    {
        get { lock (_lock) return _machines.Count; }
    }

    public void Dispose() => _timer?.Dispose();
}
