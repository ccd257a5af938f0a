using FastTun.Packets.Tunnels;
using Microsoft.Extensions.Logging;

namespace FastTun.Gateway.Dataplane;

/// <summary>
/// GRE keepalive in the running gateway: one <see cref="KeepaliveOutbox"/> per worker, the
/// <see cref="KeepaliveMonitor"/>, and the set of tunnels keepalive has taken down. A down tunnel's routes (static
/// routes through it, its connected subnet, runtime routes into it) are left out of every state built while it is
/// down, so a floating static route (a higher distance) or a less specific route takes over; the tunnel itself keeps
/// encapsulating probes and decapsulating, so its first answer brings it back.
/// </summary>
public sealed partial class GatewayRuntime
{
    private readonly HashSet<string> _downTunnels = new(StringComparer.Ordinal);
    private KeepaliveOutbox[] _keepaliveOutboxes = [];

    /// <summary>The keepalive monitor (null before the workers start).</summary>
    public KeepaliveMonitor? Keepalive { get; private set; }

    /// <summary>Tunnels keepalive has taken down (a copy).</summary>
    public IReadOnlyCollection<string> DownTunnels
    {
        get { lock (_controlLock) return _downTunnels.ToArray(); }
    }

    private KeepaliveOutbox KeepaliveOutboxFor(int worker)
    {
        if (_keepaliveOutboxes.Length <= worker) Array.Resize(ref _keepaliveOutboxes, worker + 1);
        return _keepaliveOutboxes[worker] ??= new KeepaliveOutbox();
    }

    private void StartKeepalive(ILoggerFactory loggers)
    {
        Keepalive = new KeepaliveMonitor(this, _keepaliveOutboxes, loggers.CreateLogger("keepalive"));
        Keepalive.Start();
    }

    /// <summary>Keepalive's verdict on tunnel <paramref name="name"/>: down withdraws its routes, up restores them.
    /// Rebuilds and publishes the state as a route change does (runtime changes kept).</summary>
    public void SetTunnelDown(string name, bool down)
    {
        lock (_controlLock)
        {
            if (down ? !_downTunnels.Add(name) : !_downTunnels.Remove(name)) return;
            Rebuild(_fileConfig);
        }
    }
}
