namespace FastTun.Benchmarks;

/// <summary>
/// <c>hub-ratio [rounds]</c>: the 10,000-vs-1 decap ratio of <see cref="HubBenchmarks"/> measured so that host noise
/// hits both sides alike. Both hubs live in one process; each round times every method on the 1-spoke hub and then
/// on the 10,000-spoke hub (order alternating per round), a few thousand corpus passes each, and the ratio is taken
/// per round, so a burst of load from a neighbour moves numerator and denominator together; time is the thread's
/// CPU time. Before every timed pass both hubs' corpora get new spokes drawn at random from all their spokes
/// (<see cref="HubBenchmarks.Retarget"/>, untimed; the clock reads' own cost is measured and subtracted), so the
/// 10,000-spoke hub's state is touched the way a hub's traffic touches it. Prints the median
/// ns/packet per case and the median of the per-round ratios. A complement to the BenchmarkDotNet figures on a
/// shared host, not a replacement.
/// </summary>
public static class HubRatio
{
    public static int Run(string[] args)
    {
        int rounds = args.Length > 1 && int.TryParse(args[1], out int r) && r > 0 ? r : 21;
        var one = new HubBenchmarks { Tunnels = 1 };
        int active = 0;
        for (int a = 1; a + 1 < args.Length; a++)
            if (args[a] == "--active" && int.TryParse(args[a + 1], out int n) && n > 0) active = n;
        var many = new HubBenchmarks { Tunnels = 10_000, Active = active };
        one.Setup();
        many.Setup();
        (string Name, Func<HubBenchmarks, long> Run)[] methods =
        [
            ("DecapIpip", h => h.DecapIpip()), ("DecapGreKey", h => h.DecapGreKey()),
            ("DecapIpipBatch", h => h.DecapIpipBatch()), ("DecapGreKeyBatch", h => h.DecapGreKeyBatch()),
        ];
        const int Passes = 1_000, Corpus = 1024;
        var ns = new List<double>[methods.Length, 2];
        var ratios = new List<double>[methods.Length];
        for (int m = 0; m < methods.Length; m++) { ns[m, 0] = new(); ns[m, 1] = new(); ratios[m] = new(); }
        long sink = 0;
        long clock = ClockCost();
        var rngOne = new Random(5);
        var rngMany = new Random(5);
        for (int round = -2; round < rounds; round++) // two warm-up rounds (tiering) not recorded
        {
            for (int m = 0; m < methods.Length; m++)
            {
                double[] t = new double[2];
                for (int k = 0; k < 2; k++)
                {
                    int side = (round & 1) == 0 ? k : 1 - k;
                    var hub = side == 0 ? one : many;
                    var rng = side == 0 ? rngOne : rngMany;
                    long spent = 0;
                    for (int p = 0; p < Passes; p++)
                    {
                        hub.Retarget(rng);
                        long start = ThreadCpuNs();
                        sink += methods[m].Run(hub);
                        spent += ThreadCpuNs() - start - clock;
                    }
                    t[side] = spent / ((double)Passes * Corpus);
                }
                if (round < 0) continue;
                ns[m, 0].Add(t[0]);
                ns[m, 1].Add(t[1]);
                ratios[m].Add(t[1] / t[0]);
            }
        }
        if (active > 0) Console.WriteLine($"the 10,000-spoke hub's corpus draws from its first {active} spokes only");
        Console.WriteLine($"hub-ratio: {rounds} rounds, {Passes} passes of {Corpus} packets per case and round, spokes redrawn per pass, clock pair {clock} ns subtracted per pass (sink {sink & 1})");
        Console.WriteLine("| method | 1 tunnel (median ns) | 10,000 tunnels (median ns) | ratio (median of per-round ratios) | ratio min..max |");
        Console.WriteLine("|---|---:|---:|---:|---|");
        for (int m = 0; m < methods.Length; m++)
            Console.WriteLine($"| {methods[m].Name} | {Median(ns[m, 0]):F2} | {Median(ns[m, 1]):F2} | {Median(ratios[m]):F3} | {ratios[m].Min():F2}..{ratios[m].Max():F2} |");
        one.Cleanup();
        many.Cleanup();
        return 0;
    }

    /// <summary>This thread's CPU time (CLOCK_THREAD_CPUTIME_ID): time the thread spent preempted by neighbours is
    /// not counted (their damage to its caches is).</summary>
    private static long ThreadCpuNs()
    {
        if (clock_gettime(3, out var ts) != 0) throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        return ts.Seconds * 1_000_000_000 + ts.Nanoseconds;
    }

    /// <summary>The smallest cost of two back-to-back clock reads: what one timed pass adds beyond its work.</summary>
    private static long ClockCost()
    {
        long best = long.MaxValue;
        for (int i = 0; i < 1000; i++)
        {
            long a = ThreadCpuNs();
            best = Math.Min(best, ThreadCpuNs() - a);
        }
        return best;
    }

    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int clock_gettime(int clock, out Timespec time);

    private static double Median(List<double> values)
    {
        var sorted = values.OrderBy(v => v).ToList();
        return sorted[sorted.Count / 2];
    }
}
