using System.Diagnostics;
using FastTun.Linux.Interop;
using FastTun.Linux.Ports;
using FastTun.Packets.Datapath;
using FastTun.Packets.Routing;

namespace FastTun.Gateway.Dataplane;

/// <summary>
/// One data-plane thread. It owns one queue of every interface (port id = interface index) and runs
/// rx burst → pipeline over the batch → tx burst per egress port → RxDone, for each port in turn. When a full
/// pass finds nothing, it sleeps in poll(2) on every port's descriptor, so a ping wakes it at once (no sleep
/// loop) and an idle gateway costs no CPU. No allocation, lock, log or exception per packet.
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
    private volatile bool _stop;

    public Worker(int index, PacketPort[] ports, Packets.Datapath.Pipeline pipeline, int batchSize = 64)
    {
        Index = index;
        _ports = ports;
        Pipeline = pipeline;
        _batch = new PacketBatch(batchSize);
        _thread = new Thread(Run) { IsBackground = true, Name = $"fasttun-worker-{index}" };
    }

    public int Index { get; }
    public Packets.Datapath.Pipeline Pipeline { get; }
    public IReadOnlyList<PacketPort> Ports => _ports;
    /// <summary>Stopwatch timestamp when the worker started, for the busy ratio.</summary>
    public long StartedTicks { get; private set; }
    public Exception? Fault { get; private set; }
    /// <summary>Loop passes so far (at least one per poll timeout when idle); WorkerWatchdog checks that it moves.</summary>
    public long Passes => Volatile.Read(ref _passes); // pairs with the Volatile.Write in Run
    private long _passes;

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
        var fds = stackalloc Libc.pollfd[_ports.Length];
        for (int i = 0; i < _ports.Length; i++)
        {
            fds[i].fd = _ports[i].PollFd;
            fds[i].events = Libc.POLLIN;
        }
        var counters = Pipeline.Counters;
        int idle = 0;
        using QsbrReader routeReader = Qsbr.Shared.Register();   // lpm: route-table QSBR (Routing/Qsbr.cs)
        try
        {
            while (!_stop)
            {
                Volatile.Write(ref _passes, _passes + 1); // only this thread writes; the watchdog reads it
                routeReader.Quiescent();   // lpm: no route-table reference is held between passes
                bool worked = false;
                for (int p = 0; p < _ports.Length; p++)
                {
                    var port = _ports[p];
                    _batch.Clear();
                    if (port.RxBurst(_batch) == 0) continue;
                    worked = true;
                    long start = Stopwatch.GetTimestamp();
                    Pipeline.Process(_batch, Environment.TickCount64);
                    for (int q = 0; q < _ports.Length; q++) _ports[q].TxBurst(_batch);
                    SendGenerated();
                    port.RxDone(_batch);
                    counters.BusyTicks += Stopwatch.GetTimestamp() - start;
                }
                Pipeline.Tick(Environment.TickCount64);
                if (Pipeline.Generated.Count > 0) SendGenerated();
                if (worked) { idle = 0; continue; }
                if (++idle < SpinPasses) continue;
                for (int q = 0; q < _ports.Length; q++) _ports[q].Flush();
                routeReader.Offline();   // lpm: a sleeping worker never holds up a route update
                Libc.poll(fds, (nuint)_ports.Length, Pipeline.PendingCount > 0 ? PendingPollMs : IdlePollMs);
                routeReader.Online();
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
    }
}
