using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using FastTun.Gateway.Cli;

namespace FastTun.Gateway.Tests.Control;

/// <summary>
/// The seed topology in namespaces (bench/e2e/topology.sh, IPIP configs, AF_XDP) with two `fasttun run`
/// processes whose control sockets live in a private temporary directory (/run is shared between
/// namespaces), gw1 also serving Prometheus metrics. Everything is removed on dispose: gateways by PID,
/// namespaces by prefix. Shared by the tests of one class; each test leaves the gateways as it found them.
/// </summary>
public sealed class ControlLab : Netns.SeedTopologyLab
{
    private static int s_next;

    public ControlLab() : base($"cl{Environment.ProcessId % 1000}{Interlocked.Increment(ref s_next)}-", "fasttun-control-")
    {
        MetricsPort = 19000 + Environment.ProcessId % 1000;
        Up("--offload off", () =>
        {
            Start("gw1", $"--metrics 127.0.0.1:{MetricsPort}");
            Start("gw2", "");
        });
    }

    public int MetricsPort { get; }
    public static string Fasttun => Netns.GatewayProcess.Fasttun;

    private void Start(string gw, string extra)
    {
        File.Copy(Path.Combine(Root, "configs", $"{gw}-ipip.conf"), ConfigOf(gw), overwrite: true);
        Netns.GatewayProcess.Start(Prefix + gw, $"run --config {ConfigOf(gw)} --control-socket {SocketOf(gw)} {extra}",
            Path.Combine(Dir, gw + ".log"), log => File.Exists(SocketOf(gw)) && log.Contains("control socket"),
            TimeSpan.FromSeconds(30), Processes);
    }

    public void AssertAlive()
    {
        for (int i = 0; i < Processes.Count; i++)
            if (Processes[i].HasExited) throw new InvalidOperationException($"gw{i + 1} exited {Processes[i].ExitCode}: {LogOf($"gw{i + 1}")}");
    }

    /// <summary>Runs a setup or check command; see <see cref="Netns.GatewayLab.Run"/>.</summary>
    public static (int Code, string Output) Run(string file, string args, bool check = true, int timeoutMs = 30_000) =>
        Netns.GatewayLab.Run(file, args, check, timeoutMs);

    public static string FindRoot() => Netns.GatewayLab.FindRoot();
}
