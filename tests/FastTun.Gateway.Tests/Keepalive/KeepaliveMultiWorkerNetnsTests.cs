using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using FastTun.Gateway.Cli;
using FastTun.Gateway.Tests.Netns;

namespace FastTun.Gateway.Tests.Keepalive;

/// <summary>
/// Keepalive on a gateway with two workers (veths with two queues, AF_PACKET fanout) over a GRE tunnel with key,
/// checksum and sequence numbers, against the Linux-like reflector on the underlay: the probes take their sequence
/// numbers from the tunnel's owner worker, in order with the data both workers send into the tunnel, and the
/// replies count whichever worker receives them. Namespaces and processes are removed on dispose.
/// </summary>
[Collection("netns")]
public sealed class KeepaliveMultiWorkerNetnsTests : IDisposable
{
    private static int s_next;
    private readonly string _prefix = $"kmw{Environment.ProcessId % 100}{Interlocked.Increment(ref s_next)}-";
    private readonly string _dir = Directory.CreateTempSubdirectory("fasttun-keepalive-mw-").FullName;
    private readonly List<Process> _processes = new();

    private (int Code, string Output) Exec(string ns, string command, bool check = true, int timeoutMs = 30_000) =>
        GatewayLab.Run("ip", $"netns exec {_prefix}{ns} {command}", check, timeoutMs);

    [NetnsFact]
    public void Keepalive_TwoWorkersSequencedGre_ProbesInSequenceOrderAndAnswered()
    {
        TwoQueueTopology.Create(_prefix);
        string Mac(string ns, string dev) => Exec(ns, $"cat /sys/class/net/{dev}/address").Output.Trim();
        Exec("src", $"ip neigh replace 10.1.5.1 lladdr {Mac("gw", "eth1")} dev s0 nud permanent");
        KeepaliveLab.StartReflector(_prefix + "wire", "w0", "172.12.1.11", Mac("gw", "eth2"), _dir, _processes);

        string config = Path.Combine(_dir, "gw.conf");
        File.WriteAllText(config, ConfigTestSupport.Gw1Gre + $"""
            set interfaces tunnel tun0 parameters ip key '42'
            set interfaces tunnel tun0 parameters ip checksum
            set interfaces tunnel tun0 parameters ip sequence
            set interfaces tunnel tun0 parameters keepalive 1 3
            set protocols static route 10.1.8.0/24 next-hop 1.1.1.2
            set fasttun interface eth1 driver 'af_packet'
            set fasttun interface eth1 queues 2
            set fasttun interface eth2 driver 'af_packet'
            set fasttun interface eth2 queues 2
            set fasttun neighbor 172.12.1.11 mac {Mac("wire", "w0")}
            """);
        string socket = Path.Combine(_dir, "fasttun.sock");
        GatewayProcess.Start(_prefix + "gw", $"run --config {config} --control-socket {socket}", Path.Combine(_dir, "gw.log"),
            log => File.Exists(socket) && log.Contains(" running "), TimeSpan.FromSeconds(30), _processes);

        static long Count(JsonNode? n) => n is null ? 0 : (long)n;
        JsonNode Keepalive()
        {
            var output = new StringWriter();
            Assert.Equal(0, CommandLine.Run(["show", "tunnels", "--json", "--control-socket", socket], output, new StringWriter()));
            return JsonNode.Parse(output.ToString())!["tunnels"]![0]!["keepalive"]!;
        }
        Assert.True(KeepaliveLab.WaitFor(() => Count(Keepalive()["replies"]) >= 2, 15), File.ReadAllText(Path.Combine(_dir, "gw.log")));

        // Data from many flows (both workers) into the tunnel while probes keep going.
        string script = Path.Combine(_dir, "send.py");
        File.WriteAllText(script, """
            import socket, time
            socks = []
            for i in range(40):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind(("10.1.5.10", 20000 + i))
                socks.append(s)
            end = time.time() + 3
            while time.time() < end:
                for i, s in enumerate(socks):
                    s.sendto(b"x" * 64, ("10.1.8.10", 9000 + i))
                time.sleep(0.01)
            """);
        Exec("src", $"/usr/bin/python3 {script}", timeoutMs: 60_000);
        long replies = Count(Keepalive()["replies"]);
        Assert.True(KeepaliveLab.WaitFor(() => Count(Keepalive()["replies"]) >= replies + 2, 10));

        var k = Keepalive();
        Assert.Equal("up", (string)k["state"]!);
        Assert.Equal(0, (long)k["transitions"]!);
        Assert.Equal(0, (long)k["stray"]!);
        // The reflector saw the probes' outer sequence numbers: strictly increasing (one owner numbers them with the
        // data), the first ones 0, 1, … before any data went in.
        var seqs = Regex.Matches(File.ReadAllText(Path.Combine(_dir, "reflector.log")), @"reflected 172\.12\.1\.11 172\.12\.1\.10 seq=(\d+)")
            .Select(m => long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.True(seqs.Count >= 4, string.Join(",", seqs));
        Assert.Equal(0, seqs[0]);
        for (int i = 1; i < seqs.Count; i++) Assert.True(seqs[i] > seqs[i - 1], string.Join(",", seqs));
        Assert.True(seqs[^1] > seqs.Count, $"data took sequence numbers between the probes: {string.Join(",", seqs)}");
    }

    public void Dispose()
    {
        foreach (var p in _processes) GatewayProcess.Stop(p);
        foreach (var ns in new[] { "src", "gw", "wire" }) GatewayLab.Run("ip", $"netns del {_prefix}{ns}", check: false);
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
