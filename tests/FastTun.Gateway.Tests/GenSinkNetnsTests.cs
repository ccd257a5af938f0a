using System.Diagnostics;
using System.Text.Json;
using FastTun.Gateway.Cli;

namespace FastTun.Gateway.Tests;

/// <summary>A fact that needs root (namespaces, veth, XDP); skipped with the reason otherwise. CI runs as root.</summary>
public sealed class TrafficRootFactAttribute : FactAttribute
{
    public TrafficRootFactAttribute()
    {
        if (!IsRoot()) Skip = "needs root (network namespaces, AF_XDP): run make test as root";
    }

    /// <summary>Effective uid 0, from /proc/self/status ("Uid: real effective saved fs").</summary>
    private static bool IsRoot()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("Uid:", StringComparison.Ordinal))
                return line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2] == "0";
        return false;
    }
}

/// <summary>
/// gen → veth → sink across two network namespaces, with the real executable: the generator resolves the sink
/// by ARP, sends at a modest paced rate, and the sink must count every packet, in order, with valid checksums.
/// </summary>
public sealed class GenSinkNetnsTests : IDisposable
{
    private readonly string _a, _b;

    public GenSinkNetnsTests()
    {
        string id = $"{Environment.ProcessId % 100000}{Random.Shared.Next(100, 999)}";
        _a = $"gt{id}a";
        _b = $"gt{id}b";
    }

    private static (int Code, string Out, string Err) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(60_000)) p.Kill();
        return (p.ExitCode, output, err.Result);
    }

    private static string[] Fasttun(string netns, params string[] args)
    {
        string dll = typeof(CommandLine).Assembly.Location;
        string apphost = Path.Combine(Path.GetDirectoryName(dll)!, "fasttun");
        var argv = new List<string> { "netns", "exec", netns };
        if (File.Exists(apphost)) argv.Add(apphost);
        else argv.AddRange(["dotnet", dll]);
        argv.AddRange(args);
        return argv.ToArray();
    }

    private void Setup()
    {
        Run("ip", "netns", "add", _a);
        Run("ip", "netns", "add", _b);
        Assert.Equal(0, Run("ip", "link", "add", "tg0", "netns", _a, "type", "veth", "peer", "name", "tg1", "netns", _b).Code);
        foreach (var (ns, dev) in new[] { (_a, "tg0"), (_b, "tg1") })
        {
            Run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1");
            Run("ip", "netns", "exec", ns, "ip", "link", "set", dev, "up");
        }
        Run("ip", "netns", "exec", _a, "ip", "addr", "add", "10.77.0.1/24", "dev", "tg0");
    }

    [TrafficRootFact]
    public void GenToSink_AfXdpModestRate_DeliversAllWithoutLoss() => GenToSink("af_xdp", 64);

    [TrafficRootFact]
    public void GenToSink_AfPacket1500Bytes_DeliversAllWithoutLoss() => GenToSink("af_packet", 1500);

    /// <summary>--rx-coalesce-us: the sink sleeps on its timer between bursts (5000 pps: a frame every 200 µs, so
    /// the ring runs dry between frames) and still counts every packet.</summary>
    [TrafficRootFact]
    public void GenToSink_AfXdpRxCoalescing_DeliversAllAndSleepsOnTimer() => GenToSink("af_xdp", 64, coalesceUs: 200);

    private void GenToSink(string driver, int size, int coalesceUs = 0)
    {
        Setup();
        var sinkArgs = Fasttun(_b, "sink", "--iface", "tg1", "--driver", driver, "--ip", "10.77.0.2", "--duration", "30",
            "--rx-coalesce-us", coalesceUs.ToString(), "--json");
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in sinkArgs) psi.ArgumentList.Add(a);
        using var sink = Process.Start(psi)!;
        var ready = new TaskCompletionSource();
        sink.ErrorDataReceived += (_, e) => { if (e.Data?.StartsWith("sink: ready", StringComparison.Ordinal) == true) ready.TrySetResult(); };
        sink.BeginErrorReadLine();
        Task<string> sinkOut = sink.StandardOutput.ReadToEndAsync();
        try
        {
            Assert.True(ready.Task.Wait(TimeSpan.FromSeconds(30)), "sink did not start");
            var gen = Run("ip", Fasttun(_a, "gen", "--iface", "tg0", "--driver", driver, "--dst", "10.77.0.2:5000", "--size", size.ToString(),
                "--rate", "5000", "--flows", "3", "--duration", "1", "--json"));
            Assert.True(gen.Code == 0, gen.Err);
            Thread.Sleep(500);
            Run("kill", "-INT", sink.Id.ToString());
            Assert.True(sink.WaitForExit(20_000), "sink did not stop on SIGINT");

            using var g = JsonDocument.Parse(gen.Out);
            using var s = JsonDocument.Parse(sinkOut.Result);
            long sent = g.RootElement.GetProperty("sent").GetInt64();
            Assert.InRange(sent, 500, 5300); // 5000 pps for 1 s; fewer when this busy machine deschedules the generator
            Assert.Equal(size, g.RootElement.GetProperty("size").GetInt32());
            var sr = s.RootElement;
            Assert.Equal(sent, sr.GetProperty("packets").GetInt64());
            Assert.Equal(0, sr.GetProperty("lost").GetInt64());
            Assert.Equal(0, sr.GetProperty("reordered").GetInt64());
            Assert.Equal(0, sr.GetProperty("duplicates").GetInt64());
            Assert.Equal(0, sr.GetProperty("bad_checksum").GetInt64());
            Assert.Equal(3, sr.GetProperty("flows").GetInt32());
            Assert.True(sr.GetProperty("arp_answered").GetInt64() >= 1);
            var latency = sr.GetProperty("latency_ns");
            Assert.Equal(sent, latency.GetProperty("samples").GetInt64());
            Assert.True(latency.GetProperty("p50").GetInt64() > 0);
            Assert.True(latency.GetProperty("p50").GetInt64() <= latency.GetProperty("p99").GetInt64());
            Assert.True(latency.GetProperty("p99").GetInt64() <= latency.GetProperty("max").GetInt64());
            // Idle before and after the traffic: poll(2) either way; while it flows, the timer only with coalescing.
            Assert.True(sr.GetProperty("poll_sleeps").GetInt64() > 0);
            Assert.Equal(coalesceUs > 0, sr.GetProperty("timer_sleeps").GetInt64() > 0);
        }
        finally
        {
            if (!sink.HasExited) sink.Kill();
        }
    }

    public void Dispose()
    {
        Run("ip", "netns", "del", _a);
        Run("ip", "netns", "del", _b);
    }
}
