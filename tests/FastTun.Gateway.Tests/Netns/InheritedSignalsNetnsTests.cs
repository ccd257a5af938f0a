using System.Diagnostics;
using FastTun.Gateway.Tests.Keepalive;

namespace FastTun.Gateway.Tests.Netns;

/// <summary>
/// Commands started with their control signals ignored, as nohup leaves SIGHUP and a script's background job (<c>cmd &amp;</c>)
/// leaves SIGINT: .NET keeps an inherited SIG_IGN, so without <see cref="FastTun.Linux.Interop.InheritedSignals"/> a
/// <c>kill -HUP</c> would not reload the gateway and a <c>kill -INT</c> would stop neither it nor the sink.
/// </summary>
[Collection("netns")]
public sealed class InheritedSignalsNetnsTests
{
    [NetnsFact]
    public void Run_StartedWithHupAndIntIgnored_HupReloadsAndIntStops()
    {
        using var lab = new GatewayLab("ipip", "af_packet", inheritIgnored: "HUP INT");
        Assert.Contains("SIGHUP, SIGINT inherited as ignored", lab.LogOnceItHas("gw1", 15, "inherited as ignored"), StringComparison.Ordinal);

        lab.Signal("gw1", "HUP");
        Assert.Contains("reloaded", lab.LogOnceItHas("gw1", 15, "reloaded"), StringComparison.Ordinal);
        var (code, output) = lab.Exec("server1", "ping -c 3 -i 0.2 -W 2 10.1.8.10", check: false);
        Assert.True(code == 0, output + lab.LogOf("gw1"));

        lab.Signal("gw1", "INT");
        Assert.Equal(0, lab.WaitForExit("gw1", 15_000));
        Assert.Contains("stopping", lab.LogOf("gw1"), StringComparison.Ordinal);
    }

    /// <summary>Runs <c>fasttun ARGS --control-socket gw1's</c> in gw1's namespace as a script's background job would
    /// (SIGINT ignored), its output to <paramref name="log"/>; once <paramref name="ready"/> holds, runs
    /// <paramref name="whileRunning"/>, sends SIG<paramref name="signal"/>, and asserts that the command ended with exit 0.</summary>
    private static void RunInBackgroundThenSignal(KeepaliveLab lab, string args, string log, Func<string, bool> ready, string signal,
        Action? whileRunning = null)
    {
        var started = new List<Process>();
        try
        {
            var command = GatewayProcess.StartCommand(lab.Prefix + "gw1",
                $"bash -c \"trap '' INT; exec {GatewayProcess.Fasttun} {args} --control-socket {lab.SocketOf("gw1")}\"",
                log, ready, TimeSpan.FromSeconds(30), started);
            whileRunning?.Invoke();
            GatewayLab.Run("kill", $"-{signal} {command.Id}");
            Assert.True(GatewayProcess.WaitForExitAndOutput(command, 15_000), $"still running 15 s after SIG{signal}: " + File.ReadAllText(log));
            Assert.Equal(0, command.ExitCode);
        }
        finally
        {
            foreach (var p in started) GatewayProcess.Stop(p);
        }
    }

    /// <summary>A script's background capture (<c>fasttun capture … &amp;</c>, SIGINT ignored) ended by kill -INT or plain kill:
    /// the gateway finishes the pcapng and the command reports. Before, only Ctrl-C (Console.CancelKeyPress) ended it.</summary>
    [NetnsTheory]
    [InlineData("INT")]
    [InlineData("TERM")]
    public void Capture_StartedWithIntIgnored_SignalEndsItWithACompleteFile(string signal)
    {
        using var lab = new KeepaliveLab("", "");
        string file = Path.Combine(lab.Dir, "rx.pcapng");
        string log = Path.Combine(lab.Dir, "capture.log");
        // The file is created once the gateway has said ok: the tap is on.
        RunInBackgroundThenSignal(lab, $"capture --point rx -w {file}", log, _ => File.Exists(file), signal, () =>
        {
            var (code, output) = lab.Exec("server1", "ping -c 3 -i 0.2 -W 2 10.1.8.10", check: false);
            Assert.True(code == 0, output);
        });
        Assert.Matches(@"[1-9][0-9]* frame\(s\) captured at rx", Poll.UntilContains(() => File.ReadAllText(log), 15, "captured at rx"));
        // The file is whole: tshark reads it to the end (it fails on a cut pcapng block) and finds the pings in it.
        var (tshark, frames) = GatewayLab.Run("tshark", $"-r {file} -Y icmp -T fields -e ip.src", check: false);
        Assert.True(tshark == 0, frames);
        Assert.Contains("10.1.5.10", frames, StringComparison.Ordinal);
    }

    /// <summary>`fasttun stats --watch --json > rates.jsonl &amp;` ended by kill -INT or plain kill: exit 0, every line a whole
    /// JSON object. Before, it listened to Ctrl-C only: INT was ignored in the background and TERM killed it (exit 143).</summary>
    [NetnsTheory]
    [InlineData("INT")]
    [InlineData("TERM")]
    public void StatsWatch_StartedWithIntIgnored_SignalEndsItCleanly(string signal)
    {
        using var lab = new KeepaliveLab("", "");
        string log = Path.Combine(lab.Dir, "watch.log");
        RunInBackgroundThenSignal(lab, "stats --watch --interval 0.2 --json", log, text => text.Contains('\n'), signal); // a first frame
        var lines = File.ReadAllLines(log).Where(l => l.Length > 0).ToList();
        Assert.NotEmpty(lines);
        foreach (var line in lines) Assert.NotNull(System.Text.Json.Nodes.JsonNode.Parse(line)!["interfaces"]);
    }

    [NetnsFact]
    public void Sink_StartedWithIntIgnored_StopsOnIntAndReports()
    {
        string ns = $"sig{Environment.ProcessId % 100}-sink";
        string log = Path.Combine(Directory.CreateTempSubdirectory("fasttun-signals-").FullName, "sink.log");
        var started = new List<Process>();
        GatewayLab.Run("ip", $"netns del {ns}", check: false);
        GatewayLab.Run("ip", $"netns add {ns}");
        try
        {
            GatewayLab.Run("ip", $"-n {ns} link add va type veth peer name vb");
            GatewayLab.Run("ip", $"-n {ns} link set va up");
            GatewayLab.Run("ip", $"-n {ns} link set vb up");
            var sink = GatewayProcess.StartCommand(ns, $"bash -c \"trap '' INT; exec {GatewayProcess.Fasttun} sink --iface va --driver af_packet\"",
                log, text => text.Contains("sink: ready", StringComparison.Ordinal), TimeSpan.FromSeconds(30), started);
            GatewayLab.Run("kill", $"-INT {sink.Id}");
            Assert.True(GatewayProcess.WaitForExitAndOutput(sink, 15_000), "still running 15 s after SIGINT: " + File.ReadAllText(log));
            Assert.Equal(0, sink.ExitCode);
            Assert.Contains("sink va (af_packet):", Poll.UntilContains(() => File.ReadAllText(log), 15, "sink va"), StringComparison.Ordinal);
        }
        finally
        {
            foreach (var p in started) GatewayProcess.Stop(p);
            GatewayLab.Run("ip", $"netns del {ns}", check: false);
        }
    }
}
