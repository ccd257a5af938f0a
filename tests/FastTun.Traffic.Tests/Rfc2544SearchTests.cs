
namespace FastTun.Traffic.Tests;

public class Rfc2544SearchTests
{
    /// <summary>A device that forwards up to <paramref name="capacity"/> pps and drops the rest, fed by a generator
    /// that cannot exceed <paramref name="generatorMax"/>.</summary>
    private static Func<double, Rfc2544Outcome> Device(double capacity, double generatorMax, double seconds = 1) => rate =>
    {
        double offered = rate > 0 ? Math.Min(rate, generatorMax) : generatorMax;
        long sent = (long)(offered * seconds);
        long received = (long)Math.Min(sent, capacity * seconds);
        return new Rfc2544Outcome(sent, received, offered, received / seconds);
    };

    [Theory]
    [InlineData(280_000, 900_000)]
    [InlineData(100_000, 1_000_000)]
    [InlineData(700_000, 710_000)]
    [InlineData(1, 500_000)]
    public void Run_DeviceSlowerThanGenerator_FindsCapacityWithinResolution(double capacity, double generator)
    {
        var r = Rfc2544Search.Run(Device(capacity, generator), 0, 0, 2, 30);
        Assert.False(r.GeneratorLimited);
        Assert.InRange(r.ThroughputPps, capacity * 0.97, capacity);
        Assert.All(r.Trials, t => Assert.Equal(t.Received >= t.Sent, t.Passed));
    }

    [Fact]
    public void Run_DeviceFasterThanGenerator_ReportsGeneratorLimited()
    {
        var r = Rfc2544Search.Run(Device(2_000_000, 900_000), 0, 0, 2, 30);
        Assert.True(r.GeneratorLimited);
        Assert.Equal(900_000, r.ThroughputPps);
        Assert.Single(r.Trials);
    }

    [Fact]
    public void Run_LossTolerance_AcceptsRatesWithinIt()
    {
        // 1 % tolerated: the highest passing rate is capacity / 0.99.
        var r = Rfc2544Search.Run(Device(300_000, 1_000_000), 0, 1, 0.5, 40);
        Assert.InRange(r.ThroughputPps, 300_000 / 0.99 * 0.99, 300_000 / 0.99);
    }

    [Fact]
    public void Run_MaxTrials_BoundsTheSearch()
    {
        var r = Rfc2544Search.Run(Device(123_456, 1_000_000), 0, 0, 0.0001, 5);
        Assert.Equal(5, r.Trials.Count);
        Assert.True(r.ThroughputPps <= 123_456);
    }
}
