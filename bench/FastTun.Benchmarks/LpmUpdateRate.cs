using System.Diagnostics;
using System.Globalization;
using FastTun.Packets.Routing;
using FastTun.TestFixtures;
using FastTun.Traffic;

namespace FastTun.Benchmarks;

/// <summary>
/// <c>lpm-update ROUTES DESTS [SECONDS]</c>: route changes per second while one reader thread does batch
/// lookups of 64 the whole time (registered with the table's QSBR domain, quiescent after each batch, as a worker).
/// One operation = delete a random route of the table and add it back (two changes), as LpmUpdateBenchmarks. Reports
/// the writer's rate, the reader's lookups, and the reader's longest gap between two batches (a stall would show
/// there: readers never wait for the writer). Writer and reader share the CPUs the process is allowed (taskset).
/// </summary>
public static class LpmUpdateRate
{
    public static int Run(string[] args)
    {
        if (args.Length is < 3 or > 4)
        {
            Console.Error.WriteLine("usage: lpm-update ROUTES DESTS [SECONDS]");
            return 2;
        }
        Route4[] routes = RouteFile.Read(args[1]).ToArray();
        uint[] dests = RouteFile.ReadDestinations(args[2]);
        double seconds = args.Length >= 4 ? double.Parse(args[3], CultureInfo.InvariantCulture) : 3;
        var domain = new Qsbr();
        var table = new Lpm4Table(domain);
        table.AddRange(routes);
        var rng = new SplitMix64(99);
        var order = new int[1 << 20];
        for (int i = 0; i < order.Length; i++) order[i] = (int)rng.NextInt((uint)routes.Length);

        s_stop = false;
        long readerLookups = 0, longestIdleGap = 0, longestGapTicks = 0;
        var reader = new Thread(() =>
        {
            var output = new uint[64];
            long lookups = 0, longest = 0, longestIdle = 0;
            int at = 0;
            using QsbrReader qsbr = domain.Register();
            long last = Stopwatch.GetTimestamp();
            while (!Volatile.Read(ref s_stop))
            {
                qsbr.Quiescent();
                if (at + 64 > dests.Length) at = 0;
                table.GetReader().LookupBatch(dests.AsSpan(at, 64), output);
                at += 64;
                lookups += 64;
                long now = Stopwatch.GetTimestamp();
                // Gaps while the writer is idle (scheduling noise alone) and while it writes, apart.
                if (Volatile.Read(ref s_writing)) longest = Math.Max(longest, now - last);
                else longestIdle = Math.Max(longestIdle, now - last);
                last = now;
            }
            readerLookups = lookups;
            longestGapTicks = longest;
            longestIdleGap = longestIdle;
        }) { IsBackground = true, Name = "lpm-reader" };
        reader.Start();
        Thread.Sleep(1000);   // the reader alone: its gaps here are the host's scheduling, not the writer
        Volatile.Write(ref s_writing, true);

        long changes = 0;
        int cursor = 0;
        double cpuBefore = ThreadCpuSeconds();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            for (int i = 0; i < 1024; i++)
            {
                if (cursor == order.Length) cursor = 0;
                Route4 r = routes[order[cursor++]];
                if (table.Delete(r.Prefix, r.Length)) changes++;
                table.AddOrReplace(r.Prefix, r.Length, r.NextHop);
                changes++;
            }
        }
        double elapsed = clock.Elapsed.TotalSeconds;
        double cpu = ThreadCpuSeconds() - cpuBefore;
        Volatile.Write(ref s_stop, true);
        reader.Join();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"updates {changes / elapsed / 1e6:F3} M changes/s ({changes:N0} in {elapsed:F2} s; per second of writer CPU time " +
            $"{changes / cpu / 1e6:F3} M, the writer ran {100 * cpu / elapsed:F0} % of the time); reader {readerLookups / elapsed / 1e6:F1} M lookups/s, " +
            $"longest gap between batches {longestGapTicks * 1e6 / Stopwatch.Frequency:F0} us while writing, " +
            $"{longestIdleGap * 1e6 / Stopwatch.Frequency:F0} us in the 1 s before; {table.RetiredChunks} chunks awaiting readers, pool touched {table.PoolTouchedBytes >> 20} MiB"));
        return 0;
    }

    private static bool s_stop, s_writing;

    /// <summary>
    /// CPU time of the calling thread (first field of /proc/thread-self/schedstat, ns): on a shared host the wall-clock
    /// rate also counts the time other processes held the CPU.
    /// </summary>
    private static double ThreadCpuSeconds()
    {
        string text = File.ReadAllText("/proc/thread-self/schedstat");
        return long.Parse(text.AsSpan(0, text.IndexOf(' ')), CultureInfo.InvariantCulture) / 1e9;
    }
}
