using FastTun.Traffic;
using Xunit;

namespace FastTun.Traffic.Tests;

public class TrafficSinkWaitTests
{
    private const long Idle = 20_000_000; // ticks (ns on Linux)

    [Fact]
    public void UseTimer_CoalescingOff_WaitsInPoll() =>
        Assert.False(SinkWait.UseTimer(0, now: 1_000_000_000, lastFrame: 999_999_000, Idle));

    [Fact]
    public void UseTimer_FrameWithinIdleWindow_SleepsOnTimer() =>
        Assert.True(SinkWait.UseTimer(200_000, now: 1_000_000_000, lastFrame: 1_000_000_000 - Idle + 1, Idle));

    [Fact]
    public void UseTimer_LastFrameOlderThanIdleWindow_WaitsInPoll() =>
        Assert.False(SinkWait.UseTimer(200_000, now: 1_000_000_000, lastFrame: 1_000_000_000 - Idle, Idle));

    [Fact]
    public void UseTimer_NoFrameYet_WaitsInPoll() =>
        Assert.False(SinkWait.UseTimer(200_000, now: 5, lastFrame: long.MinValue / 2, Idle));

    [Theory]
    [InlineData(-1)]
    [InlineData(1001)]
    public void Constructor_CoalesceOutOfRange_Throws(int micros) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrafficSink(null!, new byte[6], coalesce: TimeSpan.FromMicroseconds(micros)));
}
