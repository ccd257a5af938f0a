using System.Diagnostics;
using System.Globalization;
using FastTun.Gateway.Dataplane;
using FastTun.Linux.AfXdp;
using FastTun.Linux.Ports;
using FastTun.Packets.Datapath;

namespace FastTun.Gateway.Bench;

/// <summary>The figures of one <c>fasttun bench worker</c> run.</summary>
/// <param name="NsPerPacket">Worker-thread CPU time per transmitted packet, without the memory NIC's own time:
/// FastTun's cost per packet on one core with a zero-copy NIC (everything except the DMA).</param>
/// <param name="Mpps">What one core sustains at that cost: 1000 / NsPerPacket.</param>
/// <param name="NicNsPerPacket">The memory NIC's time per packet (header "DMA", ring work), measured apart, plus
/// the part of the NIC's own clock reads that its Stopwatch intervals leave out (one calibrated clock read per NIC
/// call): neither is work FastTun does on a real NIC.</param>
/// <param name="WallMpps">Packets transmitted per wall-clock second, NIC included, on whatever CPU share the
/// worker thread got.</param>
public readonly record struct WorkerBenchResult(WorkerBenchMode Mode, int Routes, int FrameBytes, double Seconds,
    long Packets, long Dropped, double NsPerPacket, double Mpps, double NicNsPerPacket, double TotalNsPerPacket,
    double WallMpps, double CpuShare, long TxCopied);

/// <summary>
/// <c>fasttun bench worker</c>: the real <see cref="Worker"/> loop (rx burst, pipeline, tx burst, rx done) on one
/// thread, over two <see cref="MemoryRingPort"/>s that share one UMEM, so forwarded frames move as descriptors
/// exactly as between AF_XDP ports. The ingress port's NIC always has frames; the egress port's NIC transmits
/// and completes everything at once. The worker thread's CPU time comes from /proc (10 ms ticks: run at least
/// a few seconds), the NIC's own share from its Stopwatch ticks.
/// </summary>
public static class WorkerBench
{
    public const int RingSize = 512;
    /// <summary>Bytes of each frame the memory NIC rewrites per reception: every header the pipeline touches.</summary>
    public const int HeaderBytes = 96;

    public static WorkerBenchResult Run(WorkerBenchSetup setup, WorkerBenchMode mode, int frameBytes, TimeSpan duration, TimeSpan warmup)
    {
        using var umem = new XdpUmem(2048, 4096);
        var eth1 = new MemoryRingPort("mem-eth1", 0, umem, RingSize);
        var eth2 = new MemoryRingPort("mem-eth2", 1, umem, RingSize);
        MemoryRingPort[] ports = [eth1, eth2];
        var rx = ports[setup.RxPort];
        var tx = ports[setup.TxPort];
        rx.SetRxTraffic(setup.Templates, setup.FrameLength, setup.TemplateCount, HeaderBytes);
        double clockRead = ClockReadTicks();
        var pipeline = new Pipeline(() => setup.State, setup.Neighbors);
        using var worker = new Worker(0, [eth1, eth2], pipeline);
        worker.Start();
        try
        {
            Thread.Sleep(warmup); // JIT tiers up, caches warm
            int tid = WorkerThreadId(worker);
            var before = Snapshot(tid, ports, tx, pipeline.Counters);
            Thread.Sleep(duration);
            var after = Snapshot(tid, ports, tx, pipeline.Counters);
            if (worker.Fault is not null) throw new InvalidOperationException($"worker failed: {worker.Fault}");
            long packets = after.TxPackets - before.TxPackets;
            if (packets <= 0) throw new InvalidOperationException($"no packet was forwarded (drops: {after.Dropped - before.Dropped})");
            double wallSeconds = (after.Wall - before.Wall) / (double)Stopwatch.Frequency;
            double cpuNs = (after.CpuTicks - before.CpuTicks) * 1e9 / ClockTicksPerSecond;
            double nicNs = (after.NicTicks - before.NicTicks + (after.NicCalls - before.NicCalls) * clockRead) * 1e9 / Stopwatch.Frequency;
            double total = cpuNs / packets;
            double nic = nicNs / packets;
            double own = Math.Max(total - nic, 0.001);
            return new WorkerBenchResult(mode, setup.RouteCount, frameBytes, wallSeconds, packets, after.Dropped - before.Dropped,
                own, 1e3 / own, nic, total, packets / wallSeconds / 1e6, cpuNs / 1e9 / wallSeconds, tx.Counters.TxCopied);
        }
        finally
        {
            worker.Stop();
        }
    }

    private readonly record struct Sample(long Wall, long CpuTicks, long NicTicks, long NicCalls, long TxPackets, long Dropped);

    /// <summary>Stopwatch ticks one <see cref="Stopwatch.GetTimestamp"/> costs: the best of 50 runs of 1000 reads
    /// (the best run is the one no other thread interrupted).</summary>
    private static double ClockReadTicks()
    {
        const int Reads = 1000;
        double best = double.MaxValue;
        for (int run = 0; run < 50; run++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < Reads - 1; i++) Stopwatch.GetTimestamp();
            long end = Stopwatch.GetTimestamp();
            best = Math.Min(best, (end - start) / (double)Reads);
        }
        return best;
    }

    private static Sample Snapshot(int tid, MemoryRingPort[] ports, MemoryRingPort tx, WorkerCounters counters)
    {
        // The counters are written by the worker with plain stores; 64-bit reads are atomic on x86-64 and a value
        // one batch old is fine over seconds.
        long nic = 0, calls = 0;
        foreach (var p in ports)
        {
            nic += Volatile.Read(ref p.NicTicks);
            calls += Volatile.Read(ref p.NicCalls);
        }
        return new Sample(Stopwatch.GetTimestamp(), ThreadCpuTicks(tid), nic, calls, Volatile.Read(ref tx.NicTxPackets), counters.TotalDrops());
    }

    /// <summary>USER_HZ; 100 on every Linux this runs on.</summary>
    private const double ClockTicksPerSecond = 100;

    /// <summary>This run's worker thread (its own id, not a name: a test host may run other workers), once it has started;
    /// the warm-up may be 0.</summary>
    private static int WorkerThreadId(Worker worker)
    {
        var deadline = Stopwatch.StartNew();
        int tid;
        while ((tid = worker.ThreadId) == 0)
        {
            if (worker.Fault is not null || deadline.Elapsed > TimeSpan.FromSeconds(10))
                throw new InvalidOperationException($"the worker thread did not start: {worker.Fault?.Message ?? "no thread id after 10 s"}");
            Thread.Sleep(1);
        }
        return tid;
    }

    /// <summary>utime + stime of one thread, in clock ticks (fields 14 and 15 of /proc/self/task/TID/stat).</summary>
    private static long ThreadCpuTicks(int tid)
    {
        string stat = File.ReadAllText($"/proc/self/task/{tid}/stat");
        string[] f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture);
    }
}
