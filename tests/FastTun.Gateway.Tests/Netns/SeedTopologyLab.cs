using System.Diagnostics;
using System.Text.Json.Nodes;
using FastTun.Gateway.Cli;

namespace FastTun.Gateway.Tests.Netns;

/// <summary>
/// The seed topology in namespaces (bench/e2e/topology.sh) with `fasttun run` gateways whose control sockets, configs
/// and logs live in a private temporary directory (/run is shared between namespaces). What a lab starts goes into
/// <see cref="Processes"/>; dispose stops them by PID, removes the namespaces by prefix and the directory.
/// The labs of the control and keepalive tests derive from it and add their own gateways.
/// </summary>
public abstract class SeedTopologyLab : IDisposable
{
    protected readonly List<Process> Processes = new();

    /// <param name="prefix">namespace prefix, unique per lab</param>
    /// <param name="dirTag">prefix of the temporary directory's name</param>
    protected SeedTopologyLab(string prefix, string dirTag)
    {
        Prefix = prefix;
        Root = GatewayLab.FindRoot();
        Dir = Directory.CreateTempSubdirectory(dirTag).FullName;
    }

    /// <summary>Brings the topology up with <paramref name="topologyArgs"/>, then runs <paramref name="start"/>; on any
    /// failure removes what was made and rethrows.</summary>
    protected void Up(string topologyArgs, Action start)
    {
        try
        {
            GatewayLab.Run("bash", $"{Root}/bench/e2e/topology.sh up --prefix {Prefix} {topologyArgs}");
            start();
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
    public string SocketOf(string gw) => Path.Combine(Dir, gw, "fasttun.sock");
    public string ConfigOf(string gw) => Path.Combine(Dir, gw + ".conf");
    public string LogOf(string name) => File.ReadAllText(Path.Combine(Dir, name + ".log"));

    /// <summary>The log of <paramref name="name"/> from character <paramref name="from"/> on, once that part contains
    /// every one of <paramref name="texts"/> (<see cref="Poll.UntilContains"/>). The gateway's console logger writes on
    /// a background thread, so a line logged before a state change the test saw may reach the file after it.</summary>
    public string LogOnceItHas(string name, int from, double seconds, params string[] texts) =>
        Poll.UntilContains(() => LogOf(name)[from..], seconds, texts);

    public (int Code, string Output) Exec(string ns, string command, bool check = true, int timeoutMs = 30_000) =>
        GatewayLab.Run("ip", $"netns exec {Prefix}{ns} {command}", check, timeoutMs);

    /// <summary>Runs a CLI command in-process against gw's socket: exit code, stdout, stderr.</summary>
    public (int Code, string Out, string Err) Cli(string gw, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CommandLine.Run([.. args, "--control-socket", SocketOf(gw)], output, error);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>One request to gw's control socket; the raw answer.</summary>
    public JsonObject Request(string gw, JsonObject request)
    {
        using var client = ControlClient.Connect(SocketOf(gw));
        return client.RequestRaw(request);
    }

    public void Dispose()
    {
        foreach (var p in Processes) GatewayProcess.Stop(p);
        GatewayLab.Run("bash", $"{Root}/bench/e2e/topology.sh down --prefix {Prefix}", check: false);
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
        GC.SuppressFinalize(this);
    }
}
