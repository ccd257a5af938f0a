using FastTun.Packets.Datapath;

namespace FastTun.Traffic.Tests;

public class TrafficFlowTrackerTests
{
    [Fact]
    public void Record_InOrder_NoLossNoReorder()
    {
        var t = new TrafficFlowTracker(4);
        for (ulong s = 0; s < 5000; s++) t.Record((ushort)(s % 3), s / 3);
        Assert.Equal(0, t.Missing);
        Assert.Equal(0, t.Reordered);
        Assert.Equal(0, t.Duplicates);
        Assert.Equal(3, t.Flows);
        Assert.Equal(5000, t.Received);
    }

    [Fact]
    public void Record_GapSwapDuplicate_CountedSeparately()
    {
        var t = new TrafficFlowTracker(1);
        foreach (ulong s in new ulong[] { 0, 1, 3, 2, 2, 6, 7 }) t.Record(0, s);
        // 4 and 5 never came; 2 came late (reordered) and then again (duplicate).
        Assert.Equal(2, t.Missing);
        Assert.Equal(1, t.Reordered);
        Assert.Equal(1, t.Duplicates);
    }

    [Fact]
    public void Record_FlowBeyondCapacity_Untracked()
    {
        var t = new TrafficFlowTracker(2);
        t.Record(5, 0);
        Assert.Equal(1, t.Untracked);
        Assert.Equal(0, t.Received);
    }

    /// <summary>Oracle: a set per flow. Missing = highest + 1 − distinct; duplicates = arrivals already in the set;
    /// reordered = new arrivals below the highest seen so far.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Record_RandomLossReorderDuplication_MatchesSetOracle(int seed)
    {
        var rng = new Random(seed);
        int flows = rng.Next(1, 8);
        var t = new TrafficFlowTracker(flows);
        var arrivals = new List<(ushort Flow, ulong Seq)>();
        for (ushort f = 0; f < flows; f++)
        {
            int count = rng.Next(100, 3000);
            for (ulong s = 0; s < (ulong)count; s++)
            {
                double r = rng.NextDouble();
                if (r < 0.05) continue;                       // lost
                arrivals.Add((f, s));
                if (r > 0.98) arrivals.Add((f, s));           // duplicated
            }
        }
        // Reorder: swap nearby arrivals (displacement far below the window).
        for (int i = 0; i + 1 < arrivals.Count; i++)
            if (rng.NextDouble() < 0.05)
            {
                int j = Math.Min(arrivals.Count - 1, i + rng.Next(1, 50));
                (arrivals[i], arrivals[j]) = (arrivals[j], arrivals[i]);
            }

        var seen = new HashSet<(ushort, ulong)>();
        var highest = new Dictionary<ushort, ulong>();
        long duplicates = 0, reordered = 0;
        foreach (var a in arrivals)
        {
            t.Record(a.Flow, a.Seq);
            if (!seen.Add(a)) { duplicates++; continue; }
            if (highest.TryGetValue(a.Flow, out ulong h) && a.Seq < h) reordered++;
            if (!highest.TryGetValue(a.Flow, out h) || a.Seq > h) highest[a.Flow] = a.Seq;
        }
        long missing = 0;
        foreach (var (flow, h) in highest) missing += (long)h + 1 - seen.Count(x => x.Item1 == flow);
        Assert.Equal(missing, t.Missing);
        Assert.Equal(duplicates, t.Duplicates);
        Assert.Equal(reordered, t.Reordered);
        Assert.Equal(arrivals.Count, t.Received);
    }
}
