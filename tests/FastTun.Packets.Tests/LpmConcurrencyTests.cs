using FastTun.Traffic;
using FastTun.Packets.Headers;
using System.Diagnostics;
using FastTun.Packets.Routing;
using FastTun.TestFixtures;

namespace FastTun.Packets.Tests;

public class LpmConcurrencyTests
{
    // Churned prefixes inside 11.0.0.0/8; each cycles through absent → value A → value B. A fixed /0 → 7 is
    // always there, so the legal answers for an address are 7 plus both values of every churned prefix that
    // covers it. A torn read, a half-built chunk or a stale chunk from another /18 would show up as an answer
    // outside that set.
    private const uint Default = 7;
    private static readonly (uint Prefix, int Length, uint A, uint B)[] Churned = BuildChurned();

    private static (uint, int, uint, uint)[] BuildChurned()
    {
        var list = new List<(uint, int, uint, uint)>
        {
            (0x0B000000, 8, 1000, 1001),    // short path: paints 1024 direct entries
            (0x0B000000, 16, 2000, 2001),   // short path: 4 direct entries
        };
        for (uint x = 0; x < 64; x++)
        {
            list.Add((0x0B000000 | (x << 8), 24, 3000 + x, 4000 + x));         // chunk path
            list.Add((0x0B000000 | (x << 8) | 16, 28, 5000 + x, 6000 + x));    // chunk path, second level
        }
        return list.ToArray();
    }

    private static bool IsLegal(uint address, uint answer)
    {
        if (answer == Default) return true;
        foreach ((uint p, int l, uint a, uint b) in Churned)
            if ((address & Route4.Mask(l)) == p && (answer == a || answer == b)) return true;
        return false;
    }

    [Fact]
    public void Lookup_WhileWriterChurns_EveryAnswerWasLegal()
    {
        var domain = new Qsbr();
        var table = new Lpm4Table(domain);
        table.AddOrReplace(0, 0, Default);
        // Other chunks, kept away from 11/8 (and anything covering it) so the legal sets above hold.
        Route4[] background = SyntheticTable.Generate(20_000, seed: 51)
            .Where(r => r.Prefix >> 24 != 11 && !(r.Length <= 8 && (0x0B000000 & Route4.Mask(r.Length)) == r.Prefix))
            .ToArray();
        table.AddRange(background);
        var rng = new SplitMix64(52);
        var addresses = new uint[4096];
        for (int i = 0; i < addresses.Length; i++)
            addresses[i] = 0x0B000000 | (rng.NextUInt() & (i % 2 == 0 ? 0x3FFFu : 0xFFFFFFu));

        using var stop = new CancellationTokenSource();
        long violations = 0, lookups = 0;
        string? firstViolation = null;
        var readers = new Thread[2];
        for (int t = 0; t < readers.Length; t++)
        {
            readers[t] = new Thread(() =>
            {
                var output = new uint[64];
                long local = 0;
                using QsbrReader qsbr = domain.Register();
                while (!stop.IsCancellationRequested)
                {
                    qsbr.Quiescent();   // as a worker does once per loop: no chunk reference held here
                    for (int start = 0; start < addresses.Length; start += 64)
                    {
                        ReadOnlySpan<uint> batch = addresses.AsSpan(start, 64);
                        table.GetReader().LookupBatch(batch, output);
                        for (int i = 0; i < 64; i++)
                        {
                            uint single = table.Lookup(batch[i]);
                            if (!IsLegal(batch[i], output[i]) || !IsLegal(batch[i], single))
                            {
                                Interlocked.Increment(ref violations);   // orders nothing; a counter read after Join
                                firstViolation ??= $"{Ipv4Address.Format(batch[i])} → {output[i]}/{single}";
                            }
                        }
                        local += 128;
                    }
                }
                Interlocked.Add(ref lookups, local);   // counter only; read after Join
            });
            readers[t].Start();
        }

        // Bounded by operation count and by a wall-clock cap (not a timing assertion): slow CI still ends.
        var clock = Stopwatch.StartNew();
        var state = new int[Churned.Length];
        int ops = 0;
        for (; ops < 300_000 && clock.Elapsed < TimeSpan.FromSeconds(3); ops++)
        {
            int k = (int)rng.NextInt((uint)Churned.Length);
            (uint p, int l, uint a, uint b) = Churned[k];
            state[k] = (state[k] + 1) % 3;
            if (state[k] == 0) Assert.True(table.Delete(p, l));
            else table.AddOrReplace(p, l, state[k] == 1 ? a : b);
        }
        stop.Cancel();
        foreach (Thread reader in readers) reader.Join();
        table.Reclaim();
        Assert.Equal(0, table.RetiredChunks);   // both readers unregistered: nothing may stay retired

        Assert.True(violations == 0, $"{violations} illegal answers, first {firstViolation}");
        Assert.True(lookups > 0);
        Assert.True(ops > 1000, $"writer made only {ops} changes");
        // Quiescent: the table must now agree exactly with the oracle.
        RouteTrie trie = LpmTestSupport.BuildTrie(background);
        trie.AddOrReplace(0, 0, Default);
        for (int k = 0; k < Churned.Length; k++)
            if (state[k] != 0) trie.AddOrReplace(Churned[k].Prefix, Churned[k].Length, state[k] == 1 ? Churned[k].A : Churned[k].B);
        LpmTestSupport.AssertMatches(table, trie, addresses);
    }
}
