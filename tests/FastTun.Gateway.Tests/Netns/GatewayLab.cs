using System.Diagnostics;
using System.Text;

namespace FastTun.Gateway.Tests.Netns;

/// <summary>
/// The seed topology in namespaces (bench/e2e/topology.sh, bridge underlay) with two real `fasttun run`
/// processes as gw1 and gw2, plus a "stranger" host on the underlay bridge (172.12.1.99) that crafts packets
/// with scapy. Everything it creates is removed on dispose: processes by PID, namespaces by prefix.
/// </summary>
public sealed class GatewayLab : IDisposable
{
    private static int s_next;
    private readonly List<Process> _gateways = new();
    private readonly string _dir;

    /// <param name="extraConfig">Lines appended to both gateways' configurations.</param>
    /// <param name="offload">Checksum offload on the hosts' veths: null for the driver's default (off for af_xdp).</param>
    /// <param name="inheritIgnored">Signals (trap names: "HUP INT") the gateways start with ignored, as nohup or a script's
    /// background job would leave them; empty for none.</param>
    public GatewayLab(string mode, string driver, string extraConfig = "", bool? offload = null, string inheritIgnored = "")
    {
        Mode = mode;
        InheritIgnored = inheritIgnored;
        Driver = driver;
        ExtraConfig = extraConfig;
        Prefix = $"t{Environment.ProcessId % 100}{Interlocked.Increment(ref s_next)}-";
        Root = FindRoot();
        _dir = Directory.CreateTempSubdirectory("fasttun-lab-").FullName;
        try
        {
            // AF_XDP cannot finish CHECKSUM_PARTIAL frames from the servers' own stacks, so their offloads go off;
            // AF_PACKET keeps them on and completes them from the virtio-net header.
            string offloadMode = (offload ?? driver != "af_xdp") ? "on" : "off";
            Run("bash", $"{Root}/bench/e2e/topology.sh up --prefix {Prefix} --underlay bridge --offload {offloadMode}");
            Run("ip", $"netns add {Prefix}stranger");
            Ip($"link add str0 netns {Prefix}wire type veth peer name eth0 netns {Prefix}stranger");
            Exec("wire", "ip link set str0 master br0 up");
            Exec("stranger", "ip link set eth0 up");
            Exec("stranger", "ip addr add 172.12.1.99/24 dev eth0");
            Exec("stranger", "ip link set lo up");
            foreach (var gw in new[] { "gw1", "gw2" }) Start(gw);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Mode { get; }
    public string InheritIgnored { get; }
    public string ExtraConfig { get; }
    public string Driver { get; }
    public string Prefix { get; }
    public string Root { get; }
    public string LogOf(string gw) => File.ReadAllText(Path.Combine(_dir, gw + ".log"));

    /// <summary>The log of <paramref name="gw"/> once it contains every one of <paramref name="texts"/>
    /// (<see cref="Poll.UntilContains"/>): the console logger writes on its own thread.</summary>
    public string LogOnceItHas(string gw, double seconds, params string[] texts) => Poll.UntilContains(() => LogOf(gw), seconds, texts);
    public string ConfigOf(string gw) => Path.Combine(_dir, gw + ".conf");
    public int PidOf(string gw) => _gateways[gw == "gw1" ? 0 : 1].Id;

    private void Start(string gw)
    {
        string config = File.ReadAllText(Path.Combine(Root, "configs", $"{gw}-{Mode}.conf")).Replace("driver 'af_xdp'", $"driver '{Driver}'") + "\n" + ExtraConfig + "\n";
        File.WriteAllText(ConfigOf(gw), config);
        string run = $"{GatewayProcess.Fasttun} run --config {ConfigOf(gw)}";
        // bash execs the gateway in place: the PID is the gateway's, with the ignored dispositions exec keeps.
        GatewayProcess.StartCommand(Prefix + gw, InheritIgnored == "" ? run : $"bash -c \"trap '' {InheritIgnored}; exec {run}\"",
            Path.Combine(_dir, gw + ".log"), log => log.Contains(" running "), TimeSpan.FromSeconds(20), _gateways);
    }

    /// <summary>Waits up to <paramref name="milliseconds"/> for <paramref name="gw"/> to exit; its exit code, or null
    /// while it still runs.</summary>
    public int? WaitForExit(string gw, int milliseconds)
    {
        var p = _gateways[gw == "gw1" ? 0 : 1];
        return GatewayProcess.WaitForExitAndOutput(p, milliseconds) ? p.ExitCode : null;
    }

    /// <summary>kill -9 of a gateway (no cleanup of its own), then waits for it to be gone.</summary>
    public void Kill9(string gw)
    {
        var p = _gateways[gw == "gw1" ? 0 : 1];
        Run("kill", $"-KILL {p.Id}", check: false);
        p.WaitForExit(10_000);
    }

    /// <summary>Starts <paramref name="gw"/> again (after <see cref="Kill9"/>) and waits until it runs.</summary>
    public void Restart(string gw)
    {
        var started = new List<Process>();
        try
        {
            GatewayProcess.Start(Prefix + gw, $"run --config {ConfigOf(gw)}", Path.Combine(_dir, gw + ".log"),
                log => log.Contains(" running "), TimeSpan.FromSeconds(20), started);
        }
        finally
        {
            if (started.Count > 0) _gateways[gw == "gw1" ? 0 : 1] = started[0];
        }
    }

    /// <summary>Runs a second `fasttun run` with <paramref name="gw"/>'s configuration in its namespace and
    /// returns its exit code and output (it is expected to refuse and exit).</summary>
    public (int Code, string Output) RunSecondInstance(string gw) =>
        Exec(gw, $"{GatewayProcess.Fasttun} run --config {ConfigOf(gw)} --control-socket {_dir}/{gw}-second.sock", check: false, timeoutMs: 30_000);

    /// <summary>Runs a command in namespace ${Prefix}<paramref name="ns"/>; returns exit code and stdout+stderr.</summary>
    public (int Code, string Output) Exec(string ns, string command, bool check = true, int timeoutMs = 30_000) =>
        Run("ip", $"netns exec {Prefix}{ns} {command}", check, timeoutMs);

    public void Ip(string args) => Run("ip", args);

    /// <summary>Waits until a TCP socket listens on <paramref name="port"/> in namespace <paramref name="ns"/> (a daemon
    /// started with -D returns before it binds), up to 15 s; throws otherwise.</summary>
    public void WaitForListener(string ns, int port)
    {
        string listening = Poll.UntilContains(() => Exec(ns, $"ss -Hltn sport = :{port}", check: false).Output, 15, $":{port}");
        if (!listening.Contains($":{port}", StringComparison.Ordinal))
            throw new TimeoutException($"nothing listens on TCP port {port} in {ns} after 15 s");
    }

    /// <summary>Runs a scapy script as the stranger on the underlay.</summary>
    public (int Code, string Output) Scapy(string ns, string script, int timeoutMs = 30_000)
    {
        string file = Path.Combine(_dir, $"scapy{Interlocked.Increment(ref s_next)}.py");
        File.WriteAllText(file, "import logging\nlogging.getLogger('scapy.runtime').setLevel(logging.ERROR)\nfrom scapy.all import *\nconf.verb = 0\n" + script);
        return Exec(ns, $"/usr/bin/python3 {file}", check: true, timeoutMs);
    }

    public string MacOf(string ns, string dev) => Exec(ns, $"cat /sys/class/net/{dev}/address").Output.Trim();

    public void Signal(string gw, string signal)
    {
        var p = _gateways[gw == "gw1" ? 0 : 1];
        if (p.HasExited) throw new InvalidOperationException($"{gw} has exited with {p.ExitCode}: {LogOf(gw)}");
        Run("kill", $"-{signal} {p.Id}");
    }

    /// <summary>Throws with the gateway's log when it is no longer running (a crash must not hide behind a
    /// timeout in some later check).</summary>
    public void AssertAlive()
    {
        for (int i = 0; i < _gateways.Count; i++)
        {
            var p = _gateways[i];
            if (p.HasExited) throw new InvalidOperationException($"gw{i + 1} has exited with {p.ExitCode}: {LogOf($"gw{i + 1}")}");
        }
    }

    public static (int Code, string Output) Run(string file, string args, bool check = true, int timeoutMs = 30_000)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var output = new StringBuilder();
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {args} did not finish in {timeoutMs} ms: {output}");
        }
        p.WaitForExit();
        string text;
        lock (output) text = output.ToString();
        if (check && p.ExitCode != 0) throw new InvalidOperationException($"{file} {args} exited {p.ExitCode}: {text}");
        return (p.ExitCode, text);
    }

    public static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FastTun.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("FastTun.sln not found above " + AppContext.BaseDirectory);
    }

    public void Dispose()
    {
        foreach (var p in _gateways) GatewayProcess.Stop(p);
        Run("ip", $"netns del {Prefix}stranger", check: false);
        Run("bash", $"{Root}/bench/e2e/topology.sh down --prefix {Prefix}", check: false);
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
