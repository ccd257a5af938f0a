using FastTun.Packets.Datapath;

namespace FastTun.Traffic.Tests;

public class TrafficHistogramTests
{
    [Fact]
    public void IndexOf_RandomValues_BucketBoundsContainTheValue()
    {
        var rng = new Random(11);
        for (int i = 0; i < 100_000; i++)
        {
            ulong v = (ulong)rng.NextInt64() >> rng.Next(0, 63);
            int index = TrafficHistogram.IndexOf(v);
            Assert.InRange(v, TrafficHistogram.LowestOf(index), TrafficHistogram.HighestOf(index));
        }
        Assert.Equal(TrafficHistogram.IndexOf(ulong.MaxValue), TrafficHistogram.IndexOf(ulong.MaxValue - 1));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Percentile_RandomLatencies_MatchesSortedOracleWithinBucketPrecision(int seed)
    {
        var rng = new Random(seed);
        var h = new TrafficHistogram();
        int n = 1 + rng.Next(1, 50_000);
        var values = new long[n];
        for (int i = 0; i < n; i++)
        {
            // Log-uniform from 1 ns to ~1 s, like latencies with a long tail.
            values[i] = (long)Math.Exp(rng.NextDouble() * Math.Log(1e9));
            h.Record(values[i]);
        }
        Array.Sort(values);
        foreach (double p in new[] { 0.1, 1, 50, 90, 99, 99.9, 99.99, 100 })
        {
            long rank = Math.Max(1, (long)Math.Ceiling(p / 100 * n));
            long exact = values[rank - 1];
            long got = h.Percentile(p);
            Assert.InRange(got, exact, exact + exact / (1 << TrafficHistogram.SubBucketBits));
        }
        Assert.Equal(values[^1], h.Max);
        Assert.Equal(values[0], h.Min);
        Assert.Equal(n, h.Count);
        Assert.Equal(values[^1], h.Percentile(100));
    }

    [Fact]
    public void Percentile_Empty_ReturnsZero()
    {
        Assert.Equal(0, new TrafficHistogram().Percentile(99));
    }

    [Fact]
    public void Record_Negative_CountsAsZero()
    {
        var h = new TrafficHistogram();
        h.Record(-5);
        Assert.Equal(0, h.Percentile(50));
        Assert.Equal(1, h.Count);
    }
}
