using System.Text;
using System.Text.Json.Nodes;
using FastTun.Gateway.Cli;
using FastTun.Gateway.Control;

namespace FastTun.Gateway.Tests.Control;

public sealed class ControlUnitTests
{
    [Fact]
    public void FromUcred_HostOrderFields_PidUidGid()
    {
        var ucred = new byte[12];
        BitConverter.TryWriteBytes(ucred.AsSpan(0), 4321);
        BitConverter.TryWriteBytes(ucred.AsSpan(4), 65534u);
        BitConverter.TryWriteBytes(ucred.AsSpan(8), 100u);
        var peer = PeerCredentials.FromUcred(ucred);
        Assert.Equal(new PeerCredentials(4321, 65534, 100), peer);
        Assert.False(peer.IsRoot);
        Assert.Contains("uid 65534", peer.RefusalMessage);
        Assert.True(new PeerCredentials(1, 0, 0).IsRoot);
    }

    [Fact]
    public void ReadLine_LinesThenRawBytes_StopsAtEachNewline()
    {
        var stream = new MemoryStream(Encoding.UTF8.GetBytes("{\"a\":1}\n\n{\"b\":2}\nRAW"));
        Assert.Equal("{\"a\":1}", ControlProtocol.ReadLine(stream));
        Assert.Equal("", ControlProtocol.ReadLine(stream));
        Assert.Equal("{\"b\":2}", ControlProtocol.ReadLine(stream));
        Assert.Equal("RAW", ControlProtocol.ReadLine(stream));
        Assert.Null(ControlProtocol.ReadLine(stream));
    }

    [Fact]
    public void ReadLine_OverLimit_Throws() =>
        Assert.Throws<InvalidDataException>(() => ControlProtocol.ReadLine(new MemoryStream(new byte[ControlProtocol.MaxRequestBytes + 10])));

    [Fact]
    public void Line_Answer_OneCompactLine()
    {
        string line = Encoding.UTF8.GetString(ControlProtocol.Line(ControlProtocol.Error("no route 10.61.0.0/16")));
        Assert.Equal("{\"ok\":false,\"error\":\"no route 10.61.0.0/16\"}\n", line);
    }

    private static JsonObject Stats(long rx, long busyMs, long ts) => new()
    {
        ["timestampMs"] = ts,
        ["uptimeSeconds"] = 10.0,
        ["interfaces"] = new JsonArray(new JsonObject
        {
            ["name"] = "eth1", ["rxPackets"] = rx, ["rxBytes"] = rx * 100, ["txPackets"] = rx, ["txBytes"] = rx * 100, ["rxDropped"] = 0L, ["txDropped"] = 0L,
        }),
        ["tunnels"] = new JsonArray(new JsonObject { ["name"] = "tun0", ["encapPackets"] = rx, ["encapBytes"] = rx * 80, ["decapPackets"] = 0L, ["decapBytes"] = 0L,
            ["sequence"] = new JsonObject { ["received"] = rx, ["lost"] = 2L, ["reordered"] = 1L, ["duplicates"] = 0L, ["outOfWindow"] = 0L, ["resyncs"] = 0L, ["lossRate"] = 0.25 } }),
        ["drops"] = new JsonObject { ["no-route"] = rx / 10, ["no-tunnel"] = 0L },
        ["workers"] = new JsonArray(new JsonObject { ["index"] = 0, ["batches"] = rx / 32, ["packets"] = rx, ["busySeconds"] = busyMs / 1000.0 }),
    };

    [Fact]
    public void Frame_TwoSnapshotsOneSecondApart_RatesFromDeltas()
    {
        var output = new StringWriter();
        StatsWatch.Frame(Stats(1_000, 100, 5_000), Stats(2_501_000, 350, 6_000), output);
        string text = output.ToString();
        Assert.Matches(@"(?m)^eth1\s+2\.50M\s+2\.00G\s+2\.50M\s+2\.00G\s+0\s+0$", text); // 2.5 Mpps of 100-byte frames
        Assert.Matches(@"(?m)^tun0\s+2\.50M\s+1\.60G\s+0\s+0$", text);
        Assert.Matches(@"(?m)^no-route\s+250\.00k\s+250100$", text);
        Assert.Matches(@"(?m)^\s*0\s+78\.1\dk\s+2\.50M\s+25\.0%$", text);
    }

    [Fact]
    public void FrameJson_TwoSnapshotsOneSecondApart_OneCompactLineOfRates()
    {
        string line = StatsWatch.FrameJson(Stats(1_000, 100, 5_000), Stats(2_501_000, 350, 6_000)).ToJsonString();
        Assert.DoesNotContain('\n', line); // JSON lines: one object per line
        using var doc = System.Text.Json.JsonDocument.Parse(line);
        var root = doc.RootElement;
        Assert.Equal(1.0, root.GetProperty("intervalSeconds").GetDouble());
        Assert.Equal(2_500_000, root.GetProperty("interfaces")[0].GetProperty("rxPps").GetDouble());
        Assert.Equal(2_000_000_000, root.GetProperty("interfaces")[0].GetProperty("rxBps").GetDouble());
        Assert.Equal(2_500_000, root.GetProperty("tunnels")[0].GetProperty("encapPps").GetDouble());
        Assert.Equal(250_000, root.GetProperty("dropsPerSecond").GetProperty("no-route").GetDouble());
        Assert.False(root.GetProperty("dropsPerSecond").TryGetProperty("no-tunnel", out _)); // unchanged counters left out
        Assert.Equal(0.25, root.GetProperty("workers")[0].GetProperty("busyRatio").GetDouble());
    }

    [Fact]
    public void Render_Stats_PrometheusTextFormat()
    {
        string text = MetricsServer.Render(Stats(42, 1500, 0));
        Assert.Contains("# TYPE fasttun_interface_rx_packets_total counter\n", text);
        Assert.Contains("fasttun_interface_rx_packets_total{interface=\"eth1\"} 42\n", text);
        Assert.Contains("fasttun_tunnel_encap_bytes_total{tunnel=\"tun0\"} 3360\n", text);
        Assert.Contains("fasttun_drops_total{reason=\"no-route\"} 4\n", text);
        Assert.Contains("fasttun_tunnel_seq_lost_total{tunnel=\"tun0\"} 2\n", text);
        Assert.Contains("# TYPE fasttun_tunnel_seq_loss_ratio gauge\n", text);
        Assert.Contains("fasttun_tunnel_seq_loss_ratio{tunnel=\"tun0\"} 0.25\n", text);
        Assert.Contains("fasttun_worker_busy_seconds_total{worker=\"0\"} 1.5\n", text);
        // Every sample line is NAME{labels} VALUE or NAME VALUE; every family has HELP and TYPE.
        foreach (var line in text.TrimEnd('\n').Split('\n'))
            Assert.Matches(@"^(# (HELP|TYPE) fasttun_[a-z_]+ .+|fasttun_[a-z_]+(\{[a-z]+=""[^""]*""\})? -?[0-9.eE+]+)$", line);
    }

    [Fact]
    public void TableWriter_MixedColumns_TextLeftNumbersRight()
    {
        var t = new TableWriter("NAME", "ADDRESS", "PKTS");
        t.Add("eth1", "10.1.5.1", 5);
        t.Add("tun0", "1.1.1.1", 12345);
        var output = new StringWriter();
        t.Write(output);
        Assert.Equal("NAME  ADDRESS    PKTS\neth1  10.1.5.1      5\ntun0  1.1.1.1   12345\n", output.ToString().Replace("\r\n", "\n"));
    }

    [Fact]
    public void TableWriter_WideAndRaggedCells_SameAsPadLeftPadRightOracle()
    {
        var random = new Random(13);
        string Word(int max) => new string('x', random.Next(0, max)) + (random.Next(3) == 0 ? "" : "y");
        var t = new TableWriter("NAME", "NUMBER", "TEXT", "LAST");
        var rows = new List<string[]>();
        for (int i = 0; i < 50; i++)
        {
            // widths from 0 to past two copies of the 32-space literal the writer pads from
            string[] row = [Word(80), random.Next(0, 3) == 0 ? "-" : random.NextInt64(0, 1L << random.Next(1, 62)).ToString(System.Globalization.CultureInfo.InvariantCulture), Word(70), Word(40)];
            rows.Add(row);
            t.Add(row[0], row[1], row[2], row[3]);
        }
        var output = new StringWriter();
        t.Write(output);
        // The oracle: the columns laid out with string.PadLeft/PadRight.
        string[] headers = ["NAME", "NUMBER", "TEXT", "LAST"];
        var widths = Enumerable.Range(0, 4).Select(c => rows.Select(r => r[c].Length).Append(headers[c].Length).Max()).ToArray();
        var expected = new System.Text.StringBuilder();
        foreach (var r in rows.Prepend(headers))
            expected.Append((r[0].PadRight(widths[0]) + "  " + r[1].PadLeft(widths[1]) + "  " + r[2].PadRight(widths[2]) + "  " + r[3]).TrimEnd()).Append('\n');
        Assert.Equal(expected.ToString(), output.ToString().Replace("\r\n", "\n"));
    }

    [Theory]
    [InlineData("route", new[] { "add", "10.0.0.0/8" })]
    [InlineData("route", new[] { "flip", "10.0.0.0/8" })]
    [InlineData("neighbor", new[] { "add", "10.1.5.9" })]
    [InlineData("tunnel", new[] { "set", "tun0", "mtu", "1400" })]
    [InlineData("reload", new[] { "now" })]
    public void ChangeCommands_BadWords_UsageExitWithoutContactingGateway(string command, string[] args)
    {
        var error = new StringWriter();
        int code = CommandLine.Run([command, .. args, "--control-socket", "/nonexistent/fasttun.sock"], new StringWriter(), error);
        Assert.Equal(CommandLine.ExitUsage, code);
        Assert.StartsWith($"fasttun {command}: ", error.ToString());
        Assert.Contains($"see 'fasttun {command} --help'", error.ToString());
        Assert.DoesNotContain("cannot connect", error.ToString());
    }

    [Fact]
    public void Show_NoGateway_ClearConnectError()
    {
        var error = new StringWriter();
        int code = CommandLine.Run(["show", "routes", "--control-socket", "/nonexistent/fasttun.sock"], new StringWriter(), error);
        Assert.Equal(CommandLine.ExitError, code);
        Assert.Contains("cannot connect to /nonexistent/fasttun.sock: no such socket (is fasttun run running?", error.ToString());
    }

    [Fact]
    public void Capture_MissingFile_UsageExit()
    {
        var error = new StringWriter();
        Assert.Equal(CommandLine.ExitUsage, CommandLine.Run(["capture", "--point", "rx"], new StringWriter(), error));
        Assert.Contains("fasttun capture: Option '--write' is required.", error.ToString());
    }
}
