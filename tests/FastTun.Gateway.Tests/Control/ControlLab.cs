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
public sealed class ControlLab : IDisposable
{
    private static int s_next;
    private readonly List<Process> _gateways = new();

    public ControlLab()
    {
        Prefix = $"cl{Environment.ProcessId % 1000}{Interlocked.Increment(ref s_next)}-";
        Root = FindRoot();
        Dir = Directory.CreateTempSubdirectory("fasttun-control-").FullName;
        MetricsPort = 19000 + Environment.ProcessId % 1000;
        try
        {
            Run("bash", $"{Root}/bench/e2e/topology.sh up --prefix {Prefix} --offload off");
            Start("gw1", $"--metrics 127.0.0.1:{MetricsPort}");
            Start("gw2", "");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Prefix { get; }
    public string Root { get; }
    public string Dir { get; }
    public int MetricsPort { get; }
    public string SocketOf(string gw) => Path.Combine(Dir, gw, "fasttun.sock");
    public string ConfigOf(string gw) => Path.Combine(Dir, gw + ".conf");
    public string LogOf(string gw) => File.ReadAllText(Path.Combine(Dir, gw + ".log"));
    public static string Fasttun => Netns.GatewayProcess.Fasttun;

    private void Start(string gw, string extra)
    {
        File.Copy(Path.Combine(Root, "configs", $"{gw}-ipip.conf"), ConfigOf(gw), overwrite: true);
        Netns.GatewayProcess.Start(Prefix + gw, $"run --config {ConfigOf(gw)} --control-socket {SocketOf(gw)} {extra}",
            Path.Combine(Dir, gw + ".log"), log => File.Exists(SocketOf(gw)) && log.Contains("control socket"),
            TimeSpan.FromSeconds(30), _gateways);
    }

    /// <summary>Runs a CLI command in-process against gw's socket: exit code, stdout, stderr.</summary>
    public (int Code, string Out, string Err) Cli(string gw, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        string[] full = [.. args, "--control-socket", SocketOf(gw)];
        int code = CommandLine.Run(full, output, error);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>One request to gw's control socket; the raw answer.</summary>
    public JsonObject Request(string gw, JsonObject request)
    {
        using var client = ControlClient.Connect(SocketOf(gw));
        return client.RequestRaw(request);
    }

    public (int Code, string Output) Exec(string ns, string command, bool check = true, int timeoutMs = 30_000) =>
        Run("ip", $"netns exec {Prefix}{ns} {command}", check, timeoutMs);

    public void AssertAlive()
    {
        for (int i = 0; i < _gateways.Count; i++)
            if (_gateways[i].HasExited) throw new InvalidOperationException($"gw{i + 1} exited {_gateways[i].ExitCode}: {LogOf($"gw{i + 1}")}");
    }

    /// <summary>Runs a setup or check command; see <see cref="Netns.GatewayLab.Run"/>.</summary>
    public static (int Code, string Output) Run(string file, string args, bool check = true, int timeoutMs = 30_000) =>
        Netns.GatewayLab.Run(file, args, check, timeoutMs);

    public static string FindRoot() => Netns.GatewayLab.FindRoot();

    public void Dispose()
    {
        foreach (var p in _gateways) Netns.GatewayProcess.Stop(p);
        Run("bash", $"{Root}/bench/e2e/topology.sh down --prefix {Prefix}", check: false);
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
