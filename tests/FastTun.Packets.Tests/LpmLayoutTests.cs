using System.Numerics;
using FastTun.Packets.Routing;
using FastTun.TestFixtures;
using FastTun.Traffic;

namespace FastTun.Packets.Tests;

/// <summary>
/// The cache-line layout the batch lookup's prefetches rely on: blocks of up to 64 bytes never straddle a line, larger
/// ones start on a line, and an entry's extra-lines bits say how many lines after the first the chunk's root node and
/// leaves reach (0–2).
/// A wrong layout would not change any answer (the oracle tests would pass), only the lines that are prefetched.
/// </summary>
public unsafe class LpmLayoutTests
{
    [Fact]
    public void Allocate_MixedSizesAndReuse_PlacesBlocksByCacheLine()
    {
        var region = new NativeRegion(1 << 24);
        var pool = new ChunkPool((uint*)region.Base, region.Length, new Qsbr());   // no readers: retired blocks are free at once
        var rng = new SplitMix64(41);
        var live = new List<(uint Offset, int Uints)>();
        for (int op = 0; op < 50_000; op++)
        {
            if (live.Count > 0 && rng.NextInt(3) == 0)
            {
                int k = (int)rng.NextInt((uint)live.Count);
                pool.Retire(live[k].Offset, live[k].Uints);
                live[k] = live[^1];
                live.RemoveAt(live.Count - 1);
                continue;
            }
            int uints = rng.NextInt(4) == 0 ? 17 + (int)rng.NextInt(200) : 1 + (int)rng.NextInt(16);
            uint offset = pool.Allocate(uints);
            int granuleUints = ChunkPool.Granules(uints) * ChunkPool.GranuleUints;
            if (granuleUints <= ChunkPool.LineUints)
                Assert.Equal(offset / ChunkPool.LineUints, (offset + (uint)granuleUints - 1) / ChunkPool.LineUints);
            else
                Assert.Equal(0u, offset % ChunkPool.LineUints);
            foreach ((uint o, int u) in live)
                if (offset < o + u && o < offset + uints) Assert.Fail($"block {offset}+{uints} overlaps live block {o}+{u}");
            live.Add((offset, uints));
        }
        GC.KeepAlive(region);
    }

    [Fact]
    public void ShortPrefixChurn_RelabelledChunks_EqualFreshBuild()
    {
        Route4[] routes = SyntheticTable.Generate(100_000, seed: 44);
        Lpm4Table table = Lpm4Table.Build(routes);
        var current = new Dictionary<(uint, int), uint>();
        foreach (Route4 r in routes) current[(r.Prefix, r.Length)] = r.NextHop;
        Route4[] shorts = routes.Where(r => r.Length <= Lpm4Table.DirectBits).ToArray();
        Route4[] longs = routes.Where(r => r.Length > Lpm4Table.DirectBits).ToArray();
        var rng = new SplitMix64(45);
        for (int op = 0; op < 20_000; op++)
        {
            // Mostly short prefixes (their changes relabel), some long ones; next hops from a small set, so a change
            // often meets a long prefix with the same answer (the full rebuild path).
            Route4 r = op % 4 == 0 ? longs[rng.NextInt((uint)longs.Length)] : shorts[rng.NextInt((uint)shorts.Length)];
            if (rng.NextInt(3) == 0)
            {
                table.Delete(r.Prefix, r.Length);
                current.Remove((r.Prefix, r.Length));
            }
            else
            {
                uint hop = rng.NextInt(40);
                table.AddOrReplace(r.Prefix, r.Length, hop);
                current[(r.Prefix, r.Length)] = hop;
            }
        }
        Lpm4Table fresh = Lpm4Table.Build(current.Select(kv => new Route4(kv.Key.Item1, kv.Key.Item2, kv.Value)).ToArray());
        Assert.True(table.RelabelledChunks > 1000, $"{table.RelabelledChunks} chunks relabelled");
        Lpm4Reader a = table.GetReader(), b = fresh.GetReader();
        for (int e = 0; e < Lpm4Table.DirectSize; e++)
        {
            Assert.Equal(b.Entries[e] & Lpm4Table.ExtraLinesMask, a.Entries[e] & Lpm4Table.ExtraLinesMask);
            Assert.True(fresh.ChunkOf(e).SequenceEqual(table.ChunkOf(e)), $"/17 number {e}: chunk differs from a fresh build");
        }
        GC.KeepAlive(table);
        GC.KeepAlive(fresh);
    }

    [Fact]
    public void Entries_AfterChurn_ExtraLinesMatchEachChunksRoot()
    {
        Route4[] routes = SyntheticTable.Generate(100_000, seed: 42);
        Lpm4Table table = Lpm4Table.Build(routes);
        var rng = new SplitMix64(43);
        for (int op = 0; op < 20_000; op++)
        {
            Route4 r = routes[rng.NextInt((uint)routes.Length)];
            if (rng.NextInt(2) == 0) table.Delete(r.Prefix, r.Length);
            else table.AddOrReplace(r.Prefix, r.Length, rng.NextInt(1000));
        }
        // One /17 whose 128 /24s all differ: a root of 128 leaves (the DFZ-like table rarely has more than 28, the
        // most that reach one extra line).
        for (uint k = 0; k < 128; k++) table.AddOrReplace(0xC612_0000u + (k << 8), 24, 5000 + k);
        Lpm4Reader reader = table.GetReader();
        int chunks = 0;
        var byExtra = new int[3];
        for (int e = 0; e < Lpm4Table.DirectSize; e++)
        {
            uint entry = reader.Entries[e];
            if ((int)entry >= 0) continue;
            uint offset = entry & Lpm4Table.ChunkOffsetMask;
            uint* root = reader.Pool + offset;
            int rootLeaves = BitOperations.PopCount(*(ulong*)root) + BitOperations.PopCount(*(ulong*)(root + 2));
            uint lastRootUint = offset + (uint)ChunkBuilder.RootNodeSize + (uint)rootLeaves - 1;
            int extra = (int)Math.Min(lastRootUint / ChunkPool.LineUints - offset / ChunkPool.LineUints, ChunkBuilder.MaxExtraLines);
            Assert.Equal((uint)extra, entry & Lpm4Table.ExtraLinesMask);
            if (extra > 0) Assert.Equal(0u, offset % ChunkPool.LineUints);
            chunks++;
            byExtra[extra]++;
        }
        GC.KeepAlive(table);   // the reader's pointers alone do not keep the mapping alive
        Assert.True(byExtra[0] > 0 && byExtra[1] > 0 && byExtra[2] > 0, $"of {chunks} chunks: {byExtra[0]} / {byExtra[1]} / {byExtra[2]} with 0 / 1 / 2 extra lines");
    }

    [Fact]
    public void Delete_EveryRoute_ReleasesEveryChunk()
    {
        Route4[] routes = SyntheticTable.Generate(50_000, seed: 44);
        var table = new Lpm4Table(new Qsbr());   // no registered readers: retired chunks are reusable at once
        table.AddRange(routes);
        Assert.True(table.ConstantChunks > 10, $"{table.ConstantChunks} constant chunks");
        long emptyTable = new Lpm4Table(new Qsbr()).MemoryBytes;
        foreach (Route4 r in routes) table.Delete(r.Prefix, r.Length);
        Assert.Equal(0, table.Count);
        Assert.Equal(0, table.ChunkCount);
        Assert.Equal(0, table.ConstantChunks);
        Assert.Equal(emptyTable, table.MemoryBytes);
        Assert.Equal(Lpm4Table.NoRoute, table.Lookup(routes[0].Prefix));
    }

    [Fact]
    public void OnHugePages_AfterBulkLoad_MatchesKernelSmaps()
    {
        Route4[] routes = SyntheticTable.Generate(200_000, seed: 45);
        var table = new Lpm4Table(new Qsbr());
        table.AddRange(routes);
        ulong start = (ulong)table.GetReader().Entries;
        long touched = (long)NativeRegion.HugePage + table.PoolTouchedBytes;
        long hugeTouched = (touched + (long)NativeRegion.HugePage - 1) / (long)NativeRegion.HugePage * (long)NativeRegion.HugePage;
        long anonHuge = AnonHugePageBytes(start);
        bool thpOff = File.ReadAllText("/sys/kernel/mm/transparent_hugepage/enabled").Contains("[never]", StringComparison.Ordinal);
        // With THP available the collapse after AddRange must have put every touched page on a 2 MiB page; and the
        // flag must say what the kernel reports either way.
        if (!thpOff) Assert.True(table.OnHugePages, $"touched {touched} B, {anonHuge} B on huge pages");
        Assert.Equal(table.OnHugePages, anonHuge >= hugeTouched);
        GC.KeepAlive(table);
    }

    /// <summary>AnonHugePages of the mapping that contains <paramref name="address"/> (/proc/self/smaps), in bytes.</summary>
    private static long AnonHugePageBytes(ulong address)
    {
        bool inside = false;
        foreach (string line in File.ReadLines("/proc/self/smaps"))
        {
            int dash = line.IndexOf('-'), space = line.IndexOf(' ');
            if (dash > 0 && space > dash && ulong.TryParse(line.AsSpan(0, dash), System.Globalization.NumberStyles.HexNumber, null, out ulong from)
                && ulong.TryParse(line.AsSpan(dash + 1, space - dash - 1), System.Globalization.NumberStyles.HexNumber, null, out ulong to))
                inside = from <= address && address < to;
            else if (inside && line.StartsWith("AnonHugePages:", StringComparison.Ordinal))
                return long.Parse(line.AsSpan(14).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
        throw new InvalidOperationException($"no mapping contains {address:X}");
    }
}
