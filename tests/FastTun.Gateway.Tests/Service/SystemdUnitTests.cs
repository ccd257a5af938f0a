using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using FastTun.Gateway.Tests.Netns;

namespace FastTun.Gateway.Tests.Service;

/// <summary>
/// contrib/fasttun@.service as systemd would run it, without systemd: its ExecStart line (specifiers filled in,
/// pointing at a temporary /etc and /run) runs in a network namespace as an unprivileged uid holding exactly the
/// unit's AmbientCapabilities (setpriv), with NoNewPrivileges, and a NOTIFY_SOCKET that this test listens on.
/// The RLIMIT_MEMLOCK here is 8 MiB: without CAP_IPC_LOCK the AF_XDP UMEM registration fails (ENOBUFS).
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class SystemdUnitTests : IDisposable
{
    private const string Netns = "cli-svc";
    private const string Instance = "lab";
    private const int ServiceUid = 61999; // in systemd's DynamicUser range, owned by nobody on this host
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"cli-svc-{Environment.ProcessId}");
    private const string LockDirectory = "/run/fasttun";
    private string? _lockDirOwner;

    public static string UnitPath
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            {
                string candidate = Path.Combine(d.FullName, "contrib", "fasttun@.service");
                if (File.Exists(candidate)) return candidate;
            }
            throw new FileNotFoundException("contrib/fasttun@.service not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>The unit's [Service] settings, last assignment wins (as systemd reads them).</summary>
    public static Dictionary<string, string> ServiceSettings(string text)
    {
        var settings = new Dictionary<string, string>(StringComparer.Ordinal);
        string section = "";
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';') continue;
            if (line[0] == '[') { section = line; continue; }
            int eq = line.IndexOf('=');
            if (section == "[Service]" && eq > 0) settings[line[..eq]] = line[(eq + 1)..];
        }
        return settings;
    }

    [Fact]
    public void Unit_Hardening_IsWhatTheIssueAsks()
    {
        var s = ServiceSettings(File.ReadAllText(UnitPath));
        Assert.Equal("notify", s["Type"]);
        Assert.Equal("fasttun", s["User"]);
        Assert.Equal("yes", s["NoNewPrivileges"]);
        Assert.Equal("strict", s["ProtectSystem"]);
        Assert.Equal("journal", s["StandardError"]);
        Assert.Equal(["CAP_NET_RAW", "CAP_NET_ADMIN", "CAP_BPF", "CAP_IPC_LOCK", "CAP_SYS_NICE"], s["AmbientCapabilities"].Split(' '));
        Assert.Equal(s["AmbientCapabilities"], s["CapabilityBoundingSet"]);
        Assert.StartsWith("@bindir@/fasttun run --config %E/fasttun/%i.conf", s["ExecStart"], StringComparison.Ordinal);
        Assert.True(int.Parse(s["WatchdogSec"], System.Globalization.CultureInfo.InvariantCulture) > 0);
    }

    [NetnsFact]
    public void ExecStart_AsServiceUserWithAmbientCapabilities_NotifiesReadyWatchdogAndStopping()
    {
        var s = ServiceSettings(File.ReadAllText(UnitPath));
        Setup();
        string etc = Path.Combine(_dir, "etc"), run = Path.Combine(_dir, "run");
        Directory.CreateDirectory(Path.Combine(etc, "fasttun"));
        File.WriteAllText(Path.Combine(etc, "fasttun", Instance + ".conf"),
            "set interfaces ethernet cli-svc0 address '10.99.1.1/24'\nset fasttun interface cli-svc0 driver af_xdp\n");
        // What RuntimeDirectory=fasttun fasttun/%i creates: the instance's runtime directory, owned by the service
        // user, and /run/fasttun (the interface locks live there, at a fixed path) also owned by it; the real one
        // gets its owner back afterwards (root processes that use it are not affected meanwhile).
        string runtimeDir = Path.Combine(run, "fasttun", Instance);
        Directory.CreateDirectory(runtimeDir);
        Chown(runtimeDir);
        Assert.Contains("fasttun/%i", s["RuntimeDirectory"].Split(' '));
        Assert.Contains("fasttun", s["RuntimeDirectory"].Split(' '));
        Directory.CreateDirectory(LockDirectory);
        _lockDirOwner = GatewayLab.Run("/usr/bin/stat", $"-c %u:%g {LockDirectory}", check: false).Output.Trim();
        Chown(LockDirectory);

        string exec = s["ExecStart"].Replace("@bindir@", AppContext.BaseDirectory.TrimEnd('/'), StringComparison.Ordinal)
            .Replace("%E", etc, StringComparison.Ordinal).Replace("%t", run, StringComparison.Ordinal).Replace("%i", Instance, StringComparison.Ordinal);
        string caps = string.Join(',', s["AmbientCapabilities"].Split(' ').Select(c => "+" + c["CAP_".Length..].ToLowerInvariant()));

        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        string notifyPath = Path.Combine(_dir, "notify.sock");
        notify.Bind(new UnixDomainSocketEndPoint(notifyPath));
        File.SetUnixFileMode(notifyPath, (UnixFileMode)0b110_110_110); // the service user must be able to send
        notify.ReceiveTimeout = 1000;

        var psi = new ProcessStartInfo("ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in (string[])["netns", "exec", Netns, "setpriv", $"--reuid={ServiceUid}", $"--regid={ServiceUid}", "--clear-groups",
                     $"--inh-caps=-all,{caps}", $"--ambient-caps={caps}", $"--bounding-set=-all,{caps}", "--no-new-privs", "--"])
            psi.ArgumentList.Add(a);
        foreach (string a in exec.Split(' ', StringSplitOptions.RemoveEmptyEntries)) psi.ArgumentList.Add(a);
        psi.Environment["NOTIFY_SOCKET"] = notifyPath;
        psi.Environment["WATCHDOG_USEC"] = "400000";
        var log = new StringBuilder();
        using var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        try
        {
            var seen = new List<string>();
            string ready = WaitFor(notify, p, seen, m => m.Contains("READY=1", StringComparison.Ordinal), TimeSpan.FromSeconds(60), log);
            Assert.Contains($"MAINPID={p.Id}", ready);
            Assert.Equal($"{ServiceUid}", UidOf(p.Id));
            WaitFor(notify, p, seen, m => m == "WATCHDOG=1", TimeSpan.FromSeconds(10), log);
            Assert.True(File.Exists(Path.Combine(runtimeDir, "fasttun.sock")), "control socket in the runtime directory");

            Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
            WaitFor(notify, p, seen, m => m.StartsWith("STOPPING=1", StringComparison.Ordinal), TimeSpan.FromSeconds(20), log);
            Assert.True(p.WaitForExit(20_000), "fasttun did not exit after SIGTERM");
            Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}: {log}");
        }
        finally
        {
            if (!p.HasExited) p.Kill();
        }
    }

    private static string WaitFor(Socket notify, Process p, List<string> seen, Func<string, bool> match, TimeSpan timeout, StringBuilder log)
    {
        var buffer = new byte[4096];
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            int n;
            try { n = notify.Receive(buffer); }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut || e.SocketErrorCode == SocketError.WouldBlock)
            {
                if (p.HasExited) break;
                continue;
            }
            string message = Encoding.UTF8.GetString(buffer, 0, n);
            seen.Add(message);
            if (match(message)) return message;
        }
        throw new Xunit.Sdk.XunitException($"no matching notification; got [{string.Join(" | ", seen)}]; exited {p.HasExited}; log:\n{log}");
    }

    private static string UidOf(int pid) =>
        File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1];

    private void Setup()
    {
        Teardown();
        Directory.CreateDirectory(_dir);
        File.SetUnixFileMode(_dir, (UnixFileMode)0b111_101_101);
        Sh($"ip netns add {Netns}");
        Sh($"ip -n {Netns} link add cli-svc0 type veth peer name cli-svc1");
        Sh($"ip -n {Netns} link set cli-svc0 up");
        Sh($"ip -n {Netns} link set cli-svc1 up");
    }

    private void Teardown()
    {
        if (_lockDirOwner is { Length: > 0 } owner) Sh($"chown {owner} {LockDirectory}", check: false);
        _lockDirOwner = null;
        Sh($"ip netns del {Netns}", check: false);
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static void Chown(string path) => Sh($"chown {ServiceUid}:{ServiceUid} {path}");

    private static void Sh(string command, bool check = true)
    {
        var (code, output) = GatewayLab.Run("/bin/sh", $"-c \"{command}\"", check: false);
        if (check && code != 0) throw new InvalidOperationException($"{command}: exit {code}: {output}");
    }

    public void Dispose()
    {
        if (Environment.IsPrivilegedProcess) Teardown();
    }
}
