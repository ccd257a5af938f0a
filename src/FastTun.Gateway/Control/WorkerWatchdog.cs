namespace FastTun.Gateway.Control;

/// <summary>
/// Decides whether the data plane is alive: every worker's loop counter (<see cref="Dataplane.Worker.Passes"/>)
/// must have moved since the previous check, and no worker may have faulted. An idle worker still passes its
/// loop once per poll timeout (100 ms), so a counter that stands still for a whole check interval means a stuck
/// worker, and the service manager should restart the gateway (no watchdog ping is sent).
/// </summary>
public sealed class WorkerWatchdog
{
    private readonly Func<IReadOnlyList<long>> _passes;
    private long[] _last;

    /// <param name="passes">Reads each worker's pass counter, in worker order.</param>
    public WorkerWatchdog(Func<IReadOnlyList<long>> passes)
    {
        _passes = passes;
        _last = [.. passes()];
    }

    /// <summary>Index of the first worker that made no progress since the last call, or -1 when all did.
    /// The baseline moves to the current counters either way.</summary>
    public int FirstStuck()
    {
        var now = _passes();
        int stuck = -1;
        if (now.Count == _last.Length) // a different count means the workers were rebuilt (reload): fresh baseline
        {
            for (int i = 0; i < now.Count; i++)
                if (now[i] == _last[i]) { stuck = i; break; }
        }
        _last = [.. now];
        return stuck;
    }
}
