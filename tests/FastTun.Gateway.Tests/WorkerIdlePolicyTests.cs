using System.Diagnostics;
using FastTun.Gateway.Bench;
using FastTun.Gateway.Control;
using FastTun.Gateway.Dataplane;
using FastTun.Linux.AfXdp;
using FastTun.Linux.Ports;

namespace FastTun.Gateway.Tests;

/// <summary>The worker's wait policy (busy-poll window after traffic, then poll(2)) and the control threads'
/// scheduling choice, both read from the environment.</summary>
public sealed class WorkerIdlePolicyTests
{
    [Fact]
    public void Parse_Unset_DefaultWindow()
    {
        Assert.Equal(WorkerIdlePolicy.DefaultSpinMicroseconds, WorkerIdlePolicy.Parse(null));
        Assert.Equal(WorkerIdlePolicy.DefaultSpinMicroseconds, WorkerIdlePolicy.Parse(" "));
    }

    [Theory]
    [InlineData("0", 0)]
    [InlineData(" 250 ", 250)]
    [InlineData("1000000", 1_000_000)]
    public void Parse_Microseconds_Applied(string value, int expected) => Assert.Equal(expected, WorkerIdlePolicy.Parse(value));

    [Theory]
    [InlineData("-1")]
    [InlineData("1000001")]
    [InlineData("fast")]
    [InlineData("1e3")]
    public void Parse_BadValue_ThrowsNamingVariable(string value)
    {
        var e = Assert.Throws<InvalidOperationException>(() => WorkerIdlePolicy.Parse(value));
        Assert.Contains(WorkerIdlePolicy.SpinVariable, e.Message);
    }

    [Fact]
    public void Run_NoTraffic_SleepsInPollWithoutSpinning()
    {
        // An idle worker never opens a busy-poll window (only a batch does): each poll(2) timeout costs it the few
        // empty passes before it sleeps again, however long the window is.
        var setup = WorkerBenchSetup.Create(WorkerBenchMode.Forward, 1000, 64, templateCount: 16);
        using var umem = new XdpUmem(2048, 4096);
        var eth1 = new MemoryRingPort("mem-eth1", 0, umem, 256);
        var eth2 = new MemoryRingPort("mem-eth2", 1, umem, 256);
        var pipeline = new FastTun.Packets.Datapath.Pipeline(() => setup.State, setup.Neighbors);
        using var worker = new Worker(0, [eth1, eth2], pipeline, spinMicroseconds: 1_000_000);
        worker.Start();
        var clock = Stopwatch.StartNew();
        while (worker.Sleeps == 0 && clock.Elapsed < TimeSpan.FromSeconds(10)) Thread.Sleep(5);
        long passes0 = worker.Passes, sleeps0 = worker.Sleeps;
        Thread.Sleep(300);
        long passes = worker.Passes - passes0, sleeps = worker.Sleeps - sleeps0;
        worker.Stop();
        Assert.Null(worker.Fault);
        Assert.True(sleeps0 > 0, "the worker never slept");
        // Every wake-up (poll timeout) is followed by at most SpinPasses empty passes before the next sleep.
        Assert.InRange(passes, 0, (sleeps + 1) * 8);
        Assert.Equal(0, pipeline.Counters.Packets);
    }

    /// <summary>Model of the worker's use of the budget, one tick per empty pass: work every <paramref name="gap"/>
    /// ticks, then empty passes that ask the budget until it says sleep (the worker then sleeps until the next work).
    /// Returns the ticks spent spinning.</summary>
    private static long SimulateSpin(long window, long gap, int works, out long firstWindow)
    {
        var budget = new SpinBudget(window);
        long spun = 0;
        firstWindow = -1;
        for (long w = 1; w <= works; w++)
        {
            long work = w * gap, t = work + 1;
            for (; t < work + gap && budget.Allow(t, work); t++) spun++;
            if (firstWindow < 0) firstWindow = t - work - 1;
        }
        return spun;
    }

    [Fact]
    public void SpinBudget_NoWorkYet_NeverSpins()
    {
        var budget = new SpinBudget(1000);
        for (long t = 1; t < 10_000; t += 7) Assert.False(budget.Allow(t, 0));
    }

    [Fact]
    public void SpinBudget_ZeroWindow_NeverSpins()
    {
        var budget = new SpinBudget(0);
        Assert.False(budget.Allow(10, 9));
    }

    [Fact]
    public void SpinBudget_PingEvery20Ms_WholeWindowEveryTime()
    {
        // Window 200, work every 20,000: the bank refills between pings, so every window runs to its end.
        long spun = SimulateSpin(200, 20_000, 100, out long first);
        Assert.Equal(199, first);
        Assert.Equal(100 * 199, spun);
    }

    [Theory]
    [InlineData(150)]
    [InlineData(199)]
    [InlineData(1000)]
    public void SpinBudget_GapsShorterThanWindow_SpinsAtMostAnEighthOfTheTime(long gap)
    {
        // Without the budget the worker would spin all the time between batches (gap - 1 of every gap ticks).
        const long window = 2000;
        const int works = 20_000;
        long spun = SimulateSpin(window, gap, works, out _);
        long total = gap * works;
        Assert.InRange(spun, total / 16, total / 8 + 2 * window + gap);
    }

    [Fact]
    public void SpinBudget_WorkDuringWindow_NotChargedAsSpin()
    {
        var budget = new SpinBudget(100);
        Assert.True(budget.Allow(10, 5));
        long before = budget.Tokens;
        // A batch came at 50, so the 60 ticks since the last call were not all spinning: nothing is charged.
        Assert.True(budget.Allow(70, 50));
        Assert.True(budget.Tokens >= before);
    }

    [Theory]
    [InlineData(null, "Fifo")]
    [InlineData("FIFO", "Fifo")]
    [InlineData(" nice", "Nice")]
    [InlineData("off", "Off")]
    public void ControlSchedParse_ValidValues_Applied(string? value, string expected) =>
        Assert.Equal(expected, ControlThreadPriority.Parse(value).ToString());

    [Fact]
    public void ControlSchedParse_BadValue_ThrowsNamingVariable()
    {
        var e = Assert.Throws<InvalidOperationException>(() => ControlThreadPriority.Parse("rr"));
        Assert.Contains(ControlThreadPriority.Variable, e.Message);
    }
}
