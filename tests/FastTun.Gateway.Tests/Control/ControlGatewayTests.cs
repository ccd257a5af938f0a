using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using FastTun.Gateway.Tests.Netns;

namespace FastTun.Gateway.Tests.Control;

/// <summary>The control socket and CLI against two running gateways in namespaces (root).</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ControlGatewayTests : IClassFixture<ControlLabFixture>
{
    private readonly ControlLab _lab;

    public ControlGatewayTests(ControlLabFixture fixture) => _lab = fixture.Lab;

    private void Ping(string target = "10.1.8.10", int count = 3) =>
        _lab.Exec("server1", $"ping -c {count} -i 0.2 -W 2 {target}");

    [ControlRootFact]
    public void Show_EveryTable_AlignedRowsWithLiveCounters()
    {
        Ping();
        var (code, text, err) = _lab.Cli("gw1", "show", "interfaces");
        Assert.True(code == 0, err);
        Assert.Matches(@"(?m)^NAME\s+DRIVER\s+QUEUES\s+MAC\s+MTU\s+ADDRESSES\s+RX-PKTS", text);
        Assert.Matches(@"(?m)^eth1\s+af_xdp\s+1\s+([0-9a-f]{2}:){5}[0-9a-f]{2}\s+1500\s+10\.1\.5\.1/24\s+[1-9]", text);
        Assert.Matches(@"(?m)^eth2\s+af_xdp\s+.*172\.12\.1\.10/24", text);

        (code, text, err) = _lab.Cli("gw1", "show", "tunnels");
        Assert.True(code == 0, err);
        Assert.Matches(@"(?m)^tun0\s+ipip\s+172\.12\.1\.10\s+172\.12\.1\.11\s+1\.1\.1\.1/24\s+1480\s+255\s+inherit\s+-\s+on\s+[1-9]", text);

        (code, text, err) = _lab.Cli("gw1", "show", "routes");
        Assert.True(code == 0, err);
        Assert.Matches(@"(?m)^10\.1\.8\.0/24\s+1\.1\.1\.2\s+tun0\s+tunnel\s+(static|runtime)$", text);
        Assert.Matches(@"(?m)^10\.1\.5\.1/32\s+-\s+-\s+local\s+local$", text);
        Assert.Matches(@"(?m)^172\.12\.1\.0/24\s+-\s+eth2\s+connected\s+connected$", text);

        (code, text, err) = _lab.Cli("gw1", "show", "neighbors");
        Assert.True(code == 0, err);
        Assert.Matches(@"(?m)^10\.1\.5\.10\s+eth1\s+([0-9a-f]{2}:){5}[0-9a-f]{2}\s+(reachable|stale)", text);
        Assert.Matches(@"(?m)^172\.12\.1\.11\s+eth2\s+", text);

        (code, text, err) = _lab.Cli("gw1", "show", "stats");
        Assert.True(code == 0, err);
        Assert.Matches(@"(?m)^tun0\s+[1-9]\d*\s+[1-9]\d*\s+[1-9]\d*\s+[1-9]\d*$", text);
        Assert.Matches(@"(?m)^WORKER\s+BATCHES\s+PACKETS\s+FORWARDED\s+DROPS\s+BUSY$", text);
        Assert.Matches(@"(?m)^\s*0\s+[1-9]\d*\s+[1-9]\d*\s+[1-9]\d*\s+\d+\s+\d+\.\d\d%$", text);
    }

    [ControlRootFact]
    public void ShowJson_EveryTable_ParsesWithExpectedFields()
    {
        Ping();
        foreach (var (what, key) in new[] { ("interfaces", "interfaces"), ("tunnels", "tunnels"), ("routes", "routes"), ("neighbors", "neighbors") })
        {
            var (code, text, err) = _lab.Cli("gw1", "show", what, "--json");
            Assert.True(code == 0, err);
            var list = JsonNode.Parse(text)![key]!.AsArray();
            Assert.NotEmpty(list);
        }
        // Filters and pages (#15 item 5) through the CLI and the control request.
        var tunnels = JsonNode.Parse(_lab.Cli("gw1", "show", "tunnels", "--json", "--name", "tun*", "--remote", "172.12.1.11", "--limit", "5").Out)!;
        Assert.Equal((1, 1, 1), (tunnels["tunnels"]!.AsArray().Count, tunnels["matched"]!.GetValue<int>(), tunnels["total"]!.GetValue<int>()));
        Assert.NotNull(tunnels["tunnels"]![0]!["sequence"]!["lossRate"]);
        var none = JsonNode.Parse(_lab.Cli("gw1", "show", "tunnels", "--json", "--mode", "gre").Out)!;
        Assert.Equal((0, 0), (none["tunnels"]!.AsArray().Count, none["matched"]!.GetValue<int>()));
        Assert.Contains("no tunnels shown: 1 of 1 match", _lab.Cli("gw1", "show", "tunnels", "--offset", "3").Out, StringComparison.Ordinal);
        Assert.Equal(2, _lab.Cli("gw1", "show", "routes", "--limit", "3").Code); // a tunnels option elsewhere: usage
        var stats = JsonNode.Parse(_lab.Cli("gw1", "show", "stats", "--json").Out)!;
        Assert.True(stats["tunnels"]![0]!["encapPackets"]!.GetValue<long>() > 0);
        Assert.True(stats["drops"]!["no-route"] is not null && stats["drops"]!["no-tunnel"] is not null);
        Assert.Equal(Enum.GetValues<Packets.Datapath.DropReason>().Length - 2, stats["drops"]!.AsObject().Count); // all but None and Count
        var worker = stats["workers"]![0]!;
        Assert.True(worker["batches"]!.GetValue<long>() > 0);
        Assert.InRange(worker["busyRatio"]!.GetValue<double>(), 0.0, 1.0);
    }

    [ControlRootFact]
    public void StatsWatch_TwoFrames_PrintsRatesPerInterfaceTunnelAndWorker()
    {
        var (code, text, err) = _lab.Cli("gw1", "stats", "--watch", "--interval", "0.3", "--count", "2");
        Assert.True(code == 0, err);
        Assert.Equal(2, Regex.Matches(text, @"(?m)^INTERFACE\s+RX-PPS\s+RX-BPS\s+TX-PPS\s+TX-BPS").Count);
        Assert.Equal(2, Regex.Matches(text, @"(?m)^TUNNEL\s+ENCAP-PPS").Count);
        Assert.Matches(@"(?m)^\s*0\s+\S+\s+\S+\s+\d+\.\d%$", text);
    }

    [ControlRootFact]
    public void ControlSocket_Files_Mode0600InDirectory0700()
    {
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_lab.SocketOf("gw1")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute,
            File.GetUnixFileMode(Path.GetDirectoryName(_lab.SocketOf("gw1"))!));
    }

    [ControlRootFact]
    public void ControlSocket_NonRootPeer_RefusedByModeAndByPeerCredentials()
    {
        string socket = _lab.SocketOf("gw1");
        string dir = Path.GetDirectoryName(socket)!;
        // The refusal comes right after accept(2), before any request: the client only reads.
        string client = "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.settimeout(10)\ntry:\n s.connect(sys.argv[1])\nexcept OSError as e:\n print('connect:', e.strerror); sys.exit(0)\n"
            + "f=s.makefile('rb')\nprint(f.readline().decode().strip())\n"
            + "try:\n d = s.recv(100)\nexcept ConnectionResetError:\n d = b''\nprint('after:', repr(d))\n";
        string script = Path.Combine(Path.GetTempPath(), $"fasttun-peer-{Environment.ProcessId}.py");
        File.WriteAllText(script, client);
        File.SetUnixFileMode(script, (UnixFileMode)0x1a4); // 0644: nobody must read it
        var labMode = File.GetUnixFileMode(_lab.Dir);
        try
        {
            // As configured: the socket file's mode stops uid 65534 at connect(2).
            var (_, output) = ControlLab.Run("setpriv", $"--reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 {script} {socket}");
            Assert.Contains("connect: Permission denied", output);
            // With the modes loosened, the SO_PEERCRED check still refuses, says why, and closes the connection.
            File.SetUnixFileMode(_lab.Dir, labMode | UnixFileMode.OtherExecute);
            File.SetUnixFileMode(dir, (UnixFileMode)0x1ed); // 0755
            File.SetUnixFileMode(socket, (UnixFileMode)0x1b6); // 0666
            (_, output) = ControlLab.Run("setpriv", $"--reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 {script} {socket}");
            Assert.StartsWith("{", output);
            var answer = JsonNode.Parse(output.Split('\n')[0])!;
            Assert.False(answer["ok"]!.GetValue<bool>());
            Assert.Contains("root only (you are uid 65534)", answer["error"]!.GetValue<string>());
            Assert.Contains("after: b''", output); // closed
        }
        finally
        {
            File.SetUnixFileMode(_lab.Dir, labMode);
            File.SetUnixFileMode(dir, (UnixFileMode)0x1c0); // 0700
            File.SetUnixFileMode(socket, (UnixFileMode)0x180); // 0600
            File.Delete(script);
        }
        Assert.Equal(0, _lab.Cli("gw1", "show", "routes").Code);
    }

    [ControlRootFact]
    public void Request_Malformed_ClearErrorsAndDataPlaneUndisturbed()
    {
        using (var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            s.Connect(new UnixDomainSocketEndPoint(_lab.SocketOf("gw1")));
            using var stream = new NetworkStream(s);
            var reader = new StreamReader(stream);
            foreach (var (request, expected) in new[]
            {
                ("this is not json", "bad request: not a JSON object"),
                ("[1,2]", "bad request: not a JSON object"),
                ("{\"what\":\"routes\"}", "request has no \"cmd\""),
                ("{\"cmd\":\"explode\"}", "unknown command 'explode'"),
                ("{\"cmd\":\"show\",\"what\":\"secrets\"}", "'secrets' is not one of"),
                ("{\"cmd\":\"route\",\"op\":\"add\",\"prefix\":\"10.1.300.0/24\",\"via\":\"1.1.1.2\"}", "is not an IPv4 prefix"),
                ("{\"cmd\":\"route\",\"op\":\"add\",\"prefix\":\"10.50.0.0/16\",\"via\":42}", "\"via\" must be a string"),
                ("{\"cmd\":\"tunnel\",\"op\":\"set\",\"name\":\"tun0\",\"ttl\":\"300\"}", "ttl must be 1-255 or inherit"),
                ("{\"cmd\":\"capture\",\"point\":\"sideways\"}", "unknown capture point 'sideways'"),
            })
            {
                stream.Write(Encoding.UTF8.GetBytes(request + "\n"));
                var answer = JsonNode.Parse(reader.ReadLine()!)!;
                Assert.False(answer["ok"]!.GetValue<bool>(), request);
                Assert.Contains(expected, answer["error"]!.GetValue<string>());
            }
            // The same connection still serves a good request.
            stream.Write(Encoding.UTF8.GetBytes("{\"cmd\":\"version\"}\n"));
            Assert.True(JsonNode.Parse(reader.ReadLine()!)!["ok"]!.GetValue<bool>());
            // An endless line is cut off with an error and the connection closes.
            stream.Write(new byte[80 * 1024]);
            Assert.Contains("request longer than", reader.ReadLine());
        }
        Ping();
        _lab.AssertAlive();
    }

    [ControlRootFact]
    public void Route_AddReplaceDeleteAndTunnelSet_UnderPingTraffic_LosesNothing()
    {
        // 1500 echo requests at 500/s (well below what the gateways forward, so the noise of a shared 2-core
        // machine does not cause loss on its own) while the route table and the tunnel change under them.
        const int count = 1500;
        var ping = Process.Start(new ProcessStartInfo("ip", $"netns exec {_lab.Prefix}server1 ping -q -c {count} -i 0.002 -W 2 10.1.8.10")
        { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!;
        var pingOut = ping.StandardOutput.ReadToEndAsync();
        int changes = 0;
        try
        {
            var clock = Stopwatch.StartNew();
            while (!ping.HasExited && clock.Elapsed < TimeSpan.FromSeconds(20))
            {
                Check(_lab.Cli("gw1", "route", "add", "10.99.0.0/16", "via", "1.1.1.2"));
                Check(_lab.Cli("gw1", "route", "add", "10.1.8.0/24", "via", "1.1.1.2")); // the live route, replaced by an equal one
                Check(_lab.Cli("gw1", "route", "add", "192.168.50.0/24", "via", "172.12.1.11"));
                Check(_lab.Cli("gw1", "route", "del", "10.99.0.0/16"));
                Check(_lab.Cli("gw1", "route", "del", "192.168.50.0/24"));
                Check(_lab.Cli("gw2", "route", "add", "10.1.5.0/24", "via", "1.1.1.1"));
                Check(_lab.Cli("gw1", "tunnel", "set", "tun0", "ttl", changes / 7 % 2 == 0 ? "64" : "255")); // a whole new state
                changes += 7;
            }
            Assert.True(ping.WaitForExit(30_000), "ping did not finish");
        }
        finally
        {
            if (!ping.HasExited) ping.Kill();
            _lab.Cli("gw1", "tunnel", "set", "tun0", "ttl", "255");
        }
        string summary = pingOut.Result;
        Assert.Matches($@"{count} packets transmitted, {count} received", summary);
        Assert.True(changes >= 14, $"only {changes} changes happened during the traffic");
        _lab.AssertAlive();
    }

    private static void Check((int Code, string Out, string Err) r) => Assert.True(r.Code == 0, r.Err);

    [ControlRootFact]
    public void Route_RuntimeRoute_SurvivesReload()
    {
        Check(_lab.Cli("gw1", "route", "add", "10.123.0.0/16", "via", "1.1.1.2"));
        try
        {
            var (code, text, err) = _lab.Cli("gw1", "reload");
            Assert.True(code == 0, err);
            Assert.Matches(@"reloaded .*runtime change\(s\) kept", text);
            Assert.Matches(@"(?m)^10\.123\.0\.0/16\s+1\.1\.1\.2\s+tun0\s+tunnel\s+runtime$", _lab.Cli("gw1", "show", "routes").Out);
        }
        finally
        {
            Check(_lab.Cli("gw1", "route", "del", "10.123.0.0/16"));
        }
        Assert.DoesNotContain("10.123.0.0/16", _lab.Cli("gw1", "show", "routes").Out);
    }

    [ControlRootFact]
    public void Route_Bad_ClearErrors()
    {
        Assert.Contains("not on a connected subnet", _lab.Cli("gw1", "route", "add", "10.60.0.0/16", "via", "9.9.9.9").Err);
        Assert.Contains("connected route of an interface address", _lab.Cli("gw1", "route", "del", "10.1.5.0/24").Err);
        Assert.Contains("no route 10.61.0.0/16", _lab.Cli("gw1", "route", "del", "10.61.0.0/16").Err);
        Assert.Contains("has host bits set; did you mean 10.62.0.0/16?", _lab.Cli("gw1", "route", "add", "10.62.1.0/16", "via", "1.1.1.2").Err);
        Assert.Contains("one of this gateway's own addresses", _lab.Cli("gw1", "route", "add", "10.63.0.0/16", "via", "1.1.1.1").Err);
        Assert.Equal(2, _lab.Cli("gw1", "route", "add", "10.64.0.0/16").Code); // usage: no gateway contacted
    }

    [ControlRootFact]
    public void Neighbor_AddShowDel_StaticEntry()
    {
        var (code, text, err) = _lab.Cli("gw1", "neighbor", "add", "10.1.5.77", "mac", "02:00:5e:00:00:77");
        Assert.True(code == 0, err);
        Assert.Contains("neighbor 10.1.5.77 lladdr 02:00:5e:00:00:77 dev eth1 static", text);
        Assert.Matches(@"(?m)^10\.1\.5\.77\s+eth1\s+02:00:5e:00:00:77\s+static", _lab.Cli("gw1", "show", "neighbors").Out);
        Assert.Contains("tunnels are point-to-point", _lab.Cli("gw1", "neighbor", "add", "1.1.1.9", "mac", "02:00:5e:00:00:78", "dev", "tun0").Err);
        Assert.Contains("not a unicast MAC", _lab.Cli("gw1", "neighbor", "add", "10.1.5.78", "mac", "01:00:5e:00:00:01").Err);
        Check(_lab.Cli("gw1", "neighbor", "del", "10.1.5.77"));
        Assert.DoesNotContain("10.1.5.77", _lab.Cli("gw1", "show", "neighbors").Out);
        Assert.Contains("no neighbour 10.1.5.77", _lab.Cli("gw1", "neighbor", "del", "10.1.5.77").Err);
    }

    /// <summary>Waits until the capture command has created <paramref name="file"/>: it does so once the gateway has answered
    /// ok, that is once the tap is on, so traffic sent after this is captured (a fixed sleep could end before that on a
    /// loaded host, and the capture then waited out its duration short of frames).</summary>
    private static void WaitForCapture(string file, Task<(int Code, string Out, string Err)> capture)
    {
        Assert.True(Poll.Until(() => File.Exists(file) || capture.IsCompleted, started => started, 15), "the capture did not start in 15 s");
        Assert.False(capture.IsCompleted && !File.Exists(file), $"the capture ended before it started: {(capture.IsCompleted ? capture.Result.Err : "")}");
    }

    [ControlRootFact]
    public void TunnelSet_Ttl_OuterTtlOnTheWireAndCaptureReadByTshark()
    {
        Check(_lab.Cli("gw1", "tunnel", "set", "tun0", "ttl", "64", "tos", "b8"));
        try
        {
            Assert.Matches(@"(?m)^tun0\s+ipip\s+.*\s64\s+0xb8\s", _lab.Cli("gw1", "show", "tunnels").Out);
            string file = Path.Combine(_lab.Dir, "encap.pcapng");
            File.Delete(file);
            var capture = Task.Run(() => _lab.Cli("gw1", "capture", "--point", "encap", "--iface", "tun0", "--count", "3", "--duration", "10", "-w", file));
            WaitForCapture(file, capture);
            Ping(count: 4);
            var (code, text, err) = capture.Result;
            Assert.True(code == 0, err);
            Assert.Contains("3 frame(s) captured at encap on tun0, 0 lost", text);
            var (_, fields) = ControlLab.Run("tshark", $"-r {file} -T fields -e ip.ttl -e ip.dsfield -e ip.src -e frame.interface_name");
            // Outer TTL 64 and DSCP from tos b8 (ECN copied from the inner 0), then the inner header.
            Assert.Equal(3, Regex.Matches(fields, @"(?m)^64,63\s+0x(b8|000000b8),0x(0|00|00000000)\s+172\.12\.1\.10,10\.1\.5\.10\s+tun0").Count);
        }
        finally
        {
            Check(_lab.Cli("gw1", "tunnel", "set", "tun0", "ttl", "255", "tos", "inherit"));
        }
        Assert.Contains("needs gre", _lab.Cli("gw1", "tunnel", "set", "tun0", "key", "7").Err);
        Assert.Contains("no tunnel tun9", _lab.Cli("gw1", "tunnel", "set", "tun9", "ttl", "3").Err);
    }

    [ControlRootFact]
    public void Reload_BadFile_ReportsErrorAndKeepsForwarding()
    {
        string config = _lab.ConfigOf("gw1");
        string good = File.ReadAllText(config);
        try
        {
            File.WriteAllText(config, good + "\nset interfaces tunnel tun0 parameters ip key 5\n");
            var (code, _, err) = _lab.Cli("gw1", "reload");
            Assert.Equal(1, code);
            Assert.Matches(@"reload refused, the running configuration stays: .*gw1\.conf:\d+: .*key", err);
            Ping();
        }
        finally
        {
            File.WriteAllText(config, good);
        }
        Assert.Equal(0, _lab.Cli("gw1", "reload").Code);
    }

    [ControlRootFact]
    public void Metrics_CurlScrape_PrometheusTextWithCounters()
    {
        Ping();
        var (_, text) = _lab.Exec("gw1", $"curl -s -i http://127.0.0.1:{_lab.MetricsPort}/metrics");
        Assert.Contains("Content-Type: text/plain; version=0.0.4", text);
        Assert.Matches(@"(?m)^fasttun_interface_rx_packets_total\{interface=""eth1""\} [1-9]\d*$", text);
        Assert.Matches(@"(?m)^fasttun_tunnel_encap_packets_total\{tunnel=""tun0""\} [1-9]\d*$", text);
        Assert.Matches(@"(?m)^fasttun_drops_total\{reason=""no-tunnel""\} \d+$", text);
        Assert.Matches(@"(?m)^# TYPE fasttun_worker_busy_seconds_total counter$", text);
        Assert.Contains("404", _lab.Exec("gw1", $"curl -s -i http://127.0.0.1:{_lab.MetricsPort}/other").Output);
    }

    [ControlRootFact]
    public void Capture_DropAndRx_TsharkReadsFramesAndDropReasons()
    {
        string drops = Path.Combine(_lab.Dir, "drop.pcapng");
        File.Delete(drops);
        var capture = Task.Run(() => _lab.Cli("gw1", "capture", "--point", "drop", "--count", "3", "--duration", "15", "-w", drops));
        WaitForCapture(drops, capture);
        _lab.Exec("server1", "ping -c 2 -i 0.2 -W 1 10.77.0.1", check: false); // no route on gw1
        // A tunnel packet from a stranger's outer source (sent by gw2's kernel on the underlay): no tunnel matches.
        string gw1Mac = _lab.Exec("gw1", "cat /sys/class/net/eth2/address").Output.Trim();
        string py = Path.Combine(_lab.Dir, "stranger.py");
        File.WriteAllText(py, "import logging\nlogging.getLogger('scapy.runtime').setLevel(logging.ERROR)\nfrom scapy.all import *\nconf.verb=0\n"
            + $"sendp(Ether(dst='{gw1Mac}')/IP(src='172.12.1.77',dst='172.12.1.10')/IP(src='10.8.8.8',dst='10.1.5.10')/ICMP(), iface='eth2')\n");
        _lab.Exec("gw2", $"/usr/bin/python3 {py}");
        var (code, text, err) = capture.Result;
        Assert.True(code == 0, err);
        Assert.Contains("3 frame(s) captured at drop", text);
        var (_, fields) = ControlLab.Run("tshark", $"-r {drops} -T fields -e frame.comment -e ip.dst -e frame.interface_name");
        Assert.Equal(2, Regex.Matches(fields, @"(?m)^drop: no-route\s+10\.77\.0\.1\s+eth1$").Count);
        Assert.Matches(@"(?m)^drop: no-tunnel\s+172\.12\.1\.10,10\.1\.5\.10\s+eth2$", fields);

        string rx = Path.Combine(_lab.Dir, "rx.pcapng");
        File.Delete(rx);
        capture = Task.Run(() => _lab.Cli("gw1", "capture", "--point", "rx", "--iface", "eth1", "--count", "2", "--duration", "15", "-w", rx));
        WaitForCapture(rx, capture);
        Ping(count: 2);
        (code, text, err) = capture.Result;
        Assert.True(code == 0, err);
        var (_, summary) = ControlLab.Run("tshark", $"-r {rx}");
        Assert.Equal(2, Regex.Matches(summary, @"10\.1\.5\.10 → 10\.1\.8\.10\s+ICMP \d+ Echo \(ping\) request").Count);
        Assert.Contains("no interface or tunnel nope",
            _lab.Request("gw1", new JsonObject { ["cmd"] = "capture", ["point"] = "rx", ["iface"] = "nope" })["error"]!.GetValue<string>());
    }
}

/// <summary>One lab for the whole class: bringing up namespaces and two gateways takes seconds.</summary>
public sealed class ControlLabFixture : IDisposable
{
    private ControlLab? _lab;
    public ControlLab Lab => _lab ??= new ControlLab();
    public void Dispose() => _lab?.Dispose();
}
