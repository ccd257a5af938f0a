using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Hosting.Systemd;

namespace FastTun.Gateway.Control;

/// <summary>
/// sd_notify for <c>fasttun run</c> under systemd (Type=notify): READY=1 once the ports are up, STATUS= lines,
/// STOPPING=1 at shutdown, and WATCHDOG=1 every half WatchdogSec while <see cref="WorkerWatchdog"/> sees every
/// worker making progress. The datagrams go through Microsoft.Extensions.Hosting.Systemd's
/// <see cref="SystemdNotifier"/> (NOTIFY_SOCKET, abstract or path); the generic host itself is not used: run
/// keeps its own signal handling and the short CLI commands do not pay for the host's start-up.
/// Without NOTIFY_SOCKET every call is a no-op.
/// </summary>
public sealed class ServiceNotifier
{
    private readonly ISystemdNotifier _notifier;
    private readonly TimeSpan _watchdogInterval;
    private long _nextPing;

    public ServiceNotifier() : this(new SystemdNotifier(), Environment.GetEnvironmentVariable("WATCHDOG_USEC"),
        Environment.GetEnvironmentVariable("WATCHDOG_PID")) { }

    public ServiceNotifier(ISystemdNotifier notifier, string? watchdogUsec, string? watchdogPid)
    {
        _notifier = notifier;
        // WATCHDOG_PID, when set, names the process systemd expects pings from (not us: a wrapper's child).
        bool forUs = watchdogPid is null || watchdogPid == Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        if (forUs && long.TryParse(watchdogUsec, NumberStyles.None, CultureInfo.InvariantCulture, out long usec) && usec > 0)
            _watchdogInterval = TimeSpan.FromMicroseconds(usec / 2.0); // sd_watchdog_enabled(3): ping at half the timeout
    }

    public bool Enabled => _notifier.IsEnabled;

    /// <summary>Half of WatchdogSec, or zero when the watchdog is off.</summary>
    public TimeSpan WatchdogInterval => _watchdogInterval;

    public void Ready(string status) => Send($"READY=1\nSTATUS={status}\nMAINPID={Environment.ProcessId}");

    public void Status(string status) => Send($"STATUS={status}");

    public void Stopping() => Send("STOPPING=1\nSTATUS=stopping");

    /// <summary>Called from the run loop (every ≤ 500 ms): when a ping is due, pings if <paramref name="watchdog"/>
    /// finds every worker moving, else reports the stuck worker in STATUS and withholds the ping.</summary>
    public void Tick(WorkerWatchdog watchdog)
    {
        if (_watchdogInterval == TimeSpan.Zero || !Enabled) return;
        long now = Stopwatch.GetTimestamp();
        if (now < _nextPing) return;
        _nextPing = now + (long)(_watchdogInterval.TotalSeconds * Stopwatch.Frequency);
        int stuck = watchdog.FirstStuck();
        if (stuck < 0) Send("WATCHDOG=1");
        else Send($"STATUS=worker {stuck} made no progress for {_watchdogInterval.TotalSeconds:0.#} s; watchdog ping withheld");
    }

    private void Send(string state)
    {
        if (Enabled) _notifier.Notify(new ServiceState(state));
    }
}
