using FastTun.Gateway.Cli;
using FastTun.Gateway.Control;
using Microsoft.Extensions.Hosting.Systemd;

namespace FastTun.Gateway.Tests.Service;

public class ServiceNotifierTests
{
    private sealed class Recorder : ISystemdNotifier
    {
        public List<string> States { get; } = [];
        public bool IsEnabled => true;
        public void Notify(ServiceState state) => States.Add(state.ToString());
    }

    [Fact]
    public void WorkerWatchdog_AllMoving_ReportsNoneStuck()
    {
        long[] passes = [1, 1];
        var w = new WorkerWatchdog(() => passes);
        passes = [2, 5];
        Assert.Equal(-1, w.FirstStuck());
    }

    [Fact]
    public void WorkerWatchdog_SecondStill_ReportsIt()
    {
        long[] passes = [1, 7];
        var w = new WorkerWatchdog(() => passes);
        passes = [2, 7];
        Assert.Equal(1, w.FirstStuck());
        passes = [3, 8];
        Assert.Equal(-1, w.FirstStuck());
    }

    [Fact]
    public void WorkerWatchdog_WorkersRebuilt_TakesFreshBaseline()
    {
        long[] passes = [4];
        var w = new WorkerWatchdog(() => passes);
        passes = [4, 4];
        Assert.Equal(-1, w.FirstStuck());
        Assert.Equal(0, w.FirstStuck());
    }

    [Fact]
    public void Tick_EveryWorkerMoving_PingsWatchdog()
    {
        var r = new Recorder();
        var n = new ServiceNotifier(r, "2", null); // 2 µs: every tick is due
        long k = 0;
        var w = new WorkerWatchdog(() => [++k]);
        n.Tick(w);
        Thread.Sleep(1);
        n.Tick(w);
        Assert.Equal(["WATCHDOG=1", "WATCHDOG=1"], r.States);
    }

    [Fact]
    public void Tick_StuckWorker_WithholdsPingAndSaysWhy()
    {
        var r = new Recorder();
        var n = new ServiceNotifier(r, "2", null);
        var w = new WorkerWatchdog(() => [5L]);
        n.Tick(w);
        Assert.Single(r.States);
        Assert.StartsWith("STATUS=worker 0 made no progress", r.States[0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("abc", null)]
    [InlineData("1000000", "1")] // WATCHDOG_PID names another process
    public void Tick_NoWatchdogForUs_SendsNothing(string? usec, string? pid)
    {
        var r = new Recorder();
        var n = new ServiceNotifier(r, usec, pid);
        n.Tick(new WorkerWatchdog(() => [1L]));
        Assert.Equal(TimeSpan.Zero, n.WatchdogInterval);
        Assert.Empty(r.States);
    }

    [Fact]
    public void ReadyAndStopping_SendTheirStates()
    {
        var r = new Recorder();
        var n = new ServiceNotifier(r, "4000000", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        n.Ready("forwarding");
        n.Stopping();
        Assert.Equal(TimeSpan.FromSeconds(2), n.WatchdogInterval);
        Assert.Equal($"READY=1\nSTATUS=forwarding\nMAINPID={Environment.ProcessId}", r.States[0]);
        Assert.StartsWith("STOPPING=1", r.States[1], StringComparison.Ordinal);
    }

    [Fact]
    public void CommandCapabilities_MissingBits_NamedInOrder()
    {
        ulong mask = CommandCapabilities.Parse("0000000000003000"); // NET_ADMIN (12) and NET_RAW (13)
        Assert.Empty(CommandCapabilities.Missing(mask, CommandCapabilities.Required));
        Assert.Equal(["CAP_NET_ADMIN"], CommandCapabilities.Missing(CommandCapabilities.Parse("2000"), CommandCapabilities.Required));
        Assert.Equal(["CAP_NET_RAW", "CAP_NET_ADMIN"], CommandCapabilities.Missing(CommandCapabilities.Parse("zz"), CommandCapabilities.Required));
    }
}
