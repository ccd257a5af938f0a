using System.Diagnostics;
using FastTun.Linux.Interop;
using FastTun.Linux.Ports;
using FastTun.Packets.Datapath;
using FastTun.Packets.Routing;

namespace FastTun.Gateway.Dataplane;

/// <summary>
/// One data-plane thread. It owns one queue of every interface (port id = interface index) and runs
/// rx burst → pipeline over the batch → tx burst per egress port → RxDone, for each port in turn. When a full
/// pass finds nothing it keeps polling for a short window after its last batch (<see cref="WorkerIdlePolicy"/>:
/// the answer to a request it just forwarded finds it awake), then sleeps in poll(2) on every port's descriptor,
/// so a ping wakes it at once (no sleep loop) and an idle gateway costs no CPU. No allocation, lock, log or
/// exception per packet.
/// </summary>
public sealed class Worker : IDisposable
{
    /// <summary>Empty passes before sleeping in poll: short, because this machine has 2 cores to share.</summary>
    private const int SpinPasses = 8;
    private const int IdlePollMs = 100;
    private const int PendingPollMs = 10;

    private readonly PacketPort[] _ports;
    private readonly PacketBatch _batch;
    private readonly Thread _thread;
    private readonly TunnelHandoff? _handoff;
    /// <summary>eventfd in the poll set: another worker that handed this one packets wakes it through it.</summary>
    private readonly int _wakeFd = -1;
    /// <summary>Stopwatch ticks the worker keeps polling after its last batch before it sleeps (0: no window).</summary>
    private readonly long _spinTicks;
    private volatile bool _stop;

    /// <param name="spinMicroseconds">The busy-poll window after the last batch; null = <see cref="WorkerIdlePolicy.SpinMicroseconds"/>.</param>
    public Worker(int index, PacketPort[] ports, Packets.Datapath.Pipeline pipeline, int batchSize = 64, TunnelHandoff? handoff = null,
        int? spinMicroseconds = null)
    {
        Index = index;
        _spinTicks = WorkerIdlePolicy.ToTicks(spinMicroseconds ?? WorkerIdlePolicy.SpinMicroseconds());
        _ports = ports;
        Pipeline = pipeline;
        _batch = new PacketBatch(batchSize);
        _handoff = handoff;
        if (handoff is not null)
        {
            _wakeFd = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
            if (_wakeFd < 0) throw LinuxException.FromLastError("eventfd");
        }
        _thread = new Thread(Run) { IsBackground = true, Name = $"fasttun-worker-{index}" };
    }

    /// <summary>Wakes the worker from poll(2) (any thread; a spurious wake-up costs one empty pass).</summary>
    public unsafe void Wake()
    {
        if (_wakeFd < 0) return;
        ulong one = 1;
        Libc.write(_wakeFd, &one, sizeof(ulong)); // EAGAIN only when the counter is saturated: already awake
    }

    public int Index { get; }
    public Packets.Datapath.Pipeline Pipeline { get; }
    public IReadOnlyList<PacketPort> Ports => _ports;
    /// <summary>Stopwatch timestamp when the worker started, for the busy ratio.</summary>
    public long StartedTicks { get; private set; }
    public Exception? Fault { get; private set; }
    /// <summary>The worker thread's kernel thread id (gettid), 0 until the thread has started: the thread's own CPU time
    /// is /proc/self/task/ThreadId/stat (the worker bench), without looking it up by name among other workers.</summary>
    public int ThreadId => Volatile.Read(ref _threadId); // pairs with the Volatile.Write at the start of Run
    private int _threadId;
    /// <summary>Loop passes so far (at least one per poll timeout when idle); WorkerWatchdog checks that it moves.</summary>
    public long Passes => Volatile.Read(ref _passes); // pairs with the Volatile.Write in Run
    private long _passes;
    /// <summary>Sleeps in poll(2) so far (a statistic for the control plane; a torn read is impossible on 64-bit).</summary>
    public long Sleeps => Volatile.Read(ref _sleeps); // orders nothing: a counter only this thread writes
    private long _sleeps;
    /// <summary>Passes that found no frame on any port (spinning included).</summary>
    public long EmptyPasses => Volatile.Read(ref _emptyPasses); // orders nothing: a counter only this thread writes
    private long _emptyPasses;

    public void Start()
    {
        StartedTicks = Stopwatch.GetTimestamp();
        _thread.Start();
    }

    public void Stop()
    {
        _stop = true; // volatile: the loop reads it once per pass
        _thread.Join();
    }

    private unsafe void Run()
    {
        Volatile.Write(ref _threadId, Libc.gettid());
        int pollCount = _ports.Length + (_wakeFd >= 0 ? 1 : 0);
        var fds = stackalloc Libc.pollfd[pollCount];
        for (int i = 0; i < _ports.Length; i++)
        {
            fds[i].fd = _ports[i].PollFd;
            fds[i].events = Libc.POLLIN;
        }
        if (_wakeFd >= 0)
        {
            fds[_ports.Length].fd = _wakeFd;
            fds[_ports.Length].events = Libc.POLLIN;
        }
        var counters = Pipeline.Counters;
        int idle = 0;
        long lastWork = 0;
        var spinBudget = new SpinBudget(_spinTicks);   // e2e5: busy-poll windows take at most 1/8 of the time
        bool yieldAfterWork = false;
        // Busy time is counted per pass that found work, from the end of the previous such pass (or, after an empty
        // pass, from the first batch's start) to the end of this one: one clock read per busy pass instead of two
        // per batch. 0 = the last pass was empty.
        long busyFrom = 0;
        using QsbrReader routeReader = Qsbr.Shared.Register();   // lpm: route-table QSBR (Routing/Qsbr.cs)
        try
        {
            while (!_stop)
            {
                Volatile.Write(ref _passes, _passes + 1); // only this thread writes; the watchdog reads it
                routeReader.Quiescent();   // lpm: no route-table reference is held between passes
                bool worked = false;
                // The pipeline's clock has millisecond resolution: one read per pass serves its batches and Tick.
                long nowMs = Environment.TickCount64;
                for (int p = 0; p < _ports.Length; p++)
                {
                    var port = _ports[p];
                    _batch.Clear();
                    if (port.RxBurst(_batch) == 0) continue;
                    if (busyFrom == 0) busyFrom = Stopwatch.GetTimestamp();
                    worked = true;
                    // The batch to send: the rx batch, or the pipeline's ordered output when it built frames
                    // (fragments, ICMP) that go out in the place of the packets they come from.
                    var output = Pipeline.Process(_batch, nowMs);
                    for (int q = 0; q < _ports.Length; q++) _ports[q].TxBurst(output);
                    Pipeline.Transmitted(_batch);
                    port.RxDone(_batch);
                }
                Pipeline.Tick(nowMs);
                if (Pipeline.Generated.Count > 0) SendGenerated();
                if (worked)
                {
                    lastWork = Stopwatch.GetTimestamp();
                    counters.BusyTicks += lastWork - busyFrom;
                    busyFrom = lastWork;
                    idle = 0;
                    yieldAfterWork = true;
                    continue;
                }
                busyFrom = 0;
                _emptyPasses++;
                ++idle;
                if (yieldAfterWork)
                {
                    // The first empty pass after work: let whatever the last batch woke have the CPU now (sched_yield,
                    // which returns at once when nobody waits) rather than after the wind-down below. On a shared core
                    // that is the next hop (the other gateway, the receiving stack), whose answer this worker would
                    // otherwise meet only after it slept: ping across both gateways -9..-13 % (bench/RESULTS.md, e2e5;
                    // with the runtime's tier-up still going it made things worse: the compiling thread got the CPU).
                    yieldAfterWork = false;
                    Thread.Yield();
                    continue;
                }
                if (idle < SpinPasses) continue;
                bool spin = _spinTicks > 0 && spinBudget.Allow(Stopwatch.GetTimestamp(), lastWork);
                if (idle == SpinPasses || !spin)
                {
                    // Kick what is left in the tx rings, refill, refresh statistics: once when the worker runs
                    // out of work, once more before it sleeps after a busy-poll window.
                    for (int q = 0; q < _ports.Length; q++) _ports[q].Flush();
                }
                if (spin)
                {
                    // Busy-poll window: look again, but let a runnable thread of the same priority have the CPU
                    // between looks (sched_yield; returns at once when nobody waits).
                    Thread.Yield();
                    continue;
                }
                if (_handoff is not null)
                {
                    // Announce the sleep, then look once more: a worker that hands packets over after this
                    // sees the flag and writes the eventfd (Dekker, see TunnelHandoff.SetSleeping).
                    _handoff.SetSleeping(Index, true);
                    if (Pipeline.HasHandoffWork)
                    {
                        _handoff.SetSleeping(Index, false);
                        routeReader.Online();
                        idle = 0;
                        continue;
                    }
                }
                routeReader.Offline();   // lpm: a sleeping worker never holds up a route update
                _sleeps++;
                Libc.poll(fds, (nuint)pollCount, Pipeline.PendingCount > 0 ? PendingPollMs : IdlePollMs);
                routeReader.Online();
                if (_handoff is not null)
                {
                    _handoff.SetSleeping(Index, false);
                    ulong count;
                    Libc.read(_wakeFd, &count, sizeof(ulong)); // resets the counter; EAGAIN when nobody wrote
                }
                idle = 0;
            }
        }
        catch (Exception e)
        {
            // A bug, not bad input: bad input is a counted drop. Record it for the control plane to report.
            Fault = e;
        }
    }

    private void SendGenerated()
    {
        var generated = Pipeline.Generated;
        for (int q = 0; q < _ports.Length; q++) _ports[q].TxBurst(generated);
        Pipeline.ReleaseGenerated();
    }

    public void Dispose()
    {
        foreach (var p in _ports) p.Dispose();
        Pipeline.Dispose();
        if (_wakeFd >= 0) Libc.close(_wakeFd);
    }
}
