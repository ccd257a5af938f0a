using System.Globalization;
using System.Numerics;
using FastTun.Packets.Routing;
using FastTun.TestFixtures;

namespace FastTun.Benchmarks;

/// <summary>
/// <c>lpm-stats ROUTES DESTS</c>: where the destinations' lookups end in the table's layout: direct entries, root
/// leaves, deeper levels, and how many 64-byte lines of the chunk each lookup reads (the cache-line cost behind
/// the bulk figure).
/// </summary>
public static unsafe class LpmStats
{
    public static int Run(string[] args)
    {
        if (args.Length != 3)
        {
            Console.Error.WriteLine("usage: lpm-stats ROUTES DESTS");
            return 2;
        }
        Lpm4Table table = Lpm4Table.Build(RouteFile.Read(args[1]).ToArray());
        uint[] dests = RouteFile.ReadDestinations(args[2]);
        Lpm4Reader reader = table.GetReader();
        uint* entries = reader.Entries, pool = reader.Pool;
        long rootFits = 0, alignedLine1 = 0, alignedLine2 = 0, alignedLine3 = 0;
        long direct = 0, empty = 0, depth1 = 0, depth2 = 0, depth3 = 0, outside2 = 0;
        var lines = new long[8];
        var leafRank = new long[65];
        foreach (uint a in dests)
        {
            uint entry = entries[a >> Lpm4Table.ChunkShift];
            if ((int)entry >= 0) { direct++; continue; }
            uint off = entry & Lpm4Table.ChunkOffsetMask;
            if (off == Lpm4Table.EmptyChunk) { empty++; continue; }
            uint* data = pool + off;
            var touched = new HashSet<ulong> { (ulong)data >> 6 };
            ulong* root = (ulong*)data;
            touched.Add((ulong)(data + ChunkBuilder.RootNodeSize - 1) >> 6);
            int w = (int)((a >> 14) & 1);
            int s0 = (int)(~a >> 8) & 63;
            int depth = 1;
            int rank = BitOperations.PopCount(root[w] << s0) + (w == 1 ? BitOperations.PopCount(root[0]) : 0);
            uint* rootLeaf = data + ChunkBuilder.RootLeafBase + rank;
            touched.Add((ulong)rootLeaf >> 6);
            leafRank[Math.Min(rank, 64)]++;
            int rootBytes = 4 * (ChunkBuilder.RootNodeSize + BitOperations.PopCount(root[0]) + BitOperations.PopCount(root[1]));
            int leafByte = 4 * (ChunkBuilder.RootNodeSize + rank - 1);
            if (rootBytes <= 64) rootFits++;
            else if (leafByte < 64) alignedLine1++;
            else if (leafByte < 128) alignedLine2++;
            else alignedLine3++;
            if (((ulong)rootLeaf >> 6) > ((ulong)data >> 6) + 2) outside2++;
            uint leaf = *rootLeaf;
            int shift = ChunkBuilder.RootShift + ChunkBuilder.RootBits;
            while (ChunkBuilder.IsChild(leaf))
            {
                uint* node = data + (leaf - Lpm4Table.ChunkTag);
                touched.Add((ulong)node >> 6);
                int s = (int)((a << shift) >> 26) ^ 63;
                uint* next = node + ChunkBuilder.NodeLeafBase + BitOperations.PopCount(*(ulong*)node << s);
                touched.Add((ulong)next >> 6);
                leaf = *next;
                shift += 6;
                depth++;
            }
            if (depth == 1) depth1++; else if (depth == 2) depth2++; else depth3++;
            lines[Math.Min(touched.Count, 7)]++;
        }
        double n = dests.Length;
        string P(long x) => (100 * x / n).ToString("F1", CultureInfo.InvariantCulture) + " %";
        Console.WriteLine($"destinations {dests.Length}: direct {P(direct)}, empty chunk {P(empty)}, root leaf {P(depth1)}, depth 2 {P(depth2)}, depth 3 {P(depth3)}");
        Console.WriteLine($"root lookups whose root node + leaves fit in 64 B: {P(rootFits)}; larger roots, 64-B aligned: leaf in line 1 {P(alignedLine1)}, line 2 {P(alignedLine2)}, later {P(alignedLine3)}");
        Console.WriteLine($"leaf beyond the three prefetched lines: {P(outside2)}");
        for (int i = 1; i < 8; i++) if (lines[i] > 0) Console.WriteLine($"chunk lines touched {i}: {P(lines[i])}");
        long cum = 0;
        for (int r = 0; r <= 64; r += 8)
        {
            for (int k = r; k < Math.Min(r + 8, 65); k++) cum += leafRank[k];
            Console.WriteLine($"root leaf rank < {r + 8}: {P(cum)} cumulative");
        }
        Console.WriteLine($"chunks {table.ChunkCount}, memory {table.MemoryBytes / 1048576.0:F2} MiB, pool touched {table.PoolTouchedBytes / 1048576.0:F2} MiB");
        GC.KeepAlive(table);
        return 0;
    }
}
