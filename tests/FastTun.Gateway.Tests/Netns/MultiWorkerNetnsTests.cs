using System.Buffers.Binary;
using System.Diagnostics;
using System.Text.Json.Nodes;
using FastTun.Gateway.Cli;

namespace FastTun.Gateway.Tests.Netns;

/// <summary>
/// One gateway with two workers (two queues per interface, veth with <c>numrxqueues 2 numtxqueues 2</c>,
/// AF_PACKET fanout spreading flows over both) in front of a GRE tunnel with key and sequence numbers. Many UDP
/// flows, some of them fragmented by the gateway, go into the tunnel while tcpdump records the underlay; the
/// recorded sequence numbers must be exactly 0, 1, 2, … in wire order, and the counters must add up exactly
/// (relative to what the sockets received: a starved gateway on a loaded machine can lose frames in the kernel's
/// rx ring before FastTun sees them; without such loss every packet sent must be on the wire).
/// Namespaces and processes are removed on dispose.
/// </summary>
[Collection("netns")]
public sealed class MultiWorkerNetnsTests : IDisposable
{
    private static int s_next;
    private readonly string _prefix = $"vec{Environment.ProcessId % 100}{Interlocked.Increment(ref s_next)}-";
    private readonly string _dir = Directory.CreateTempSubdirectory("fasttun-vector-").FullName;
    private readonly List<Process> _gateways = new();
    private Process? _capture;

    private const int SmallPerFlow = 40, Flows = 50, BigPackets = 20;

    private (int Code, string Output) Exec(string ns, string command, bool check = true, int timeoutMs = 30_000) =>
        GatewayLab.Run("ip", $"netns exec {_prefix}{ns} {command}", check, timeoutMs);

    [NetnsFact]
    public void Run_TwoWorkersSequencedGre_SequenceContiguousOnWireAndCountersExact()
    {
        TwoQueueTopology.Create(_prefix);
        Exec("wire", "ip addr add 172.12.1.11/24 dev w0");
        // Static neighbours everywhere: no ARP exchange, so every frame the gateway forwards is one of the flows'.
        string Mac(string ns, string dev) => Exec(ns, $"cat /sys/class/net/{dev}/address").Output.Trim();
        string gwEth1 = Mac("gw", "eth1"), gwEth2 = Mac("gw", "eth2"), wireMac = Mac("wire", "w0");
        Exec("src", $"ip neigh replace 10.1.5.1 lladdr {gwEth1} dev s0 nud permanent");
        Exec("wire", $"ip neigh replace 172.12.1.10 lladdr {gwEth2} dev w0 nud permanent");

        string config = Path.Combine(_dir, "gw.conf");
        File.WriteAllText(config, """
            set interfaces ethernet eth1 address '10.1.5.1/24'
            set interfaces ethernet eth2 address '172.12.1.10/24'
            set interfaces tunnel tun0 address '1.1.1.1/24'
            set interfaces tunnel tun0 encapsulation 'gre'
            set interfaces tunnel tun0 local-ip '172.12.1.10'
            set interfaces tunnel tun0 remote-ip '172.12.1.11'
            set interfaces tunnel tun0 parameters ip key '42'
            set interfaces tunnel tun0 parameters ip sequence
            set protocols static route 10.1.8.0/24 next-hop 1.1.1.2
            set fasttun interface eth1 driver 'af_packet'
            set fasttun interface eth1 queues 2
            set fasttun interface eth2 driver 'af_packet'
            set fasttun interface eth2 queues 2
            set fasttun neighbor 172.12.1.11 mac WIREMAC
            """.Replace("WIREMAC", wireMac));
        string socket = Path.Combine(_dir, "fasttun.sock");
        GatewayProcess.Start(_prefix + "gw", $"run --config {config} --control-socket {socket}", Path.Combine(_dir, "gw.log"),
            log => File.Exists(socket) && log.Contains(" running "), TimeSpan.FromSeconds(30), _gateways);

        string pcap = Path.Combine(_dir, "wire.pcap");
        // Listening once this returns: the test's first packet must be on the file.
        _capture = GatewayProcess.StartTcpdump(_prefix + "wire", $"tcpdump -i w0 -U -n -w {pcap} ip proto 47");
        _capture.BeginOutputReadLine();

        // Many flows (the fanout hash spreads them over both workers), paced so nothing is lost on the way in;
        // some datagrams without DF larger than the tunnel MTU (1468 with key and seq), which the gateway splits.
        string script = Path.Combine(_dir, "send.py");
        File.WriteAllText(script, $$"""
            import socket, time
            socks = []
            for i in range({{Flows}}):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.setsockopt(socket.IPPROTO_IP, 10, 0)  # IP_MTU_DISCOVER = IP_PMTUDISC_DONT: no DF
                s.bind(("10.1.5.10", 20000 + i))
                socks.append(s)
            for r in range({{SmallPerFlow}}):
                for i, s in enumerate(socks):
                    s.sendto(b"x" * 64, ("10.1.8.10", 9000 + i))
                time.sleep(0.005)
            for r in range({{BigPackets}}):
                socks[r % len(socks)].sendto(b"y" * 1460, ("10.1.8.10", 9999))
                time.sleep(0.002)
            """);
        Exec("src", $"/usr/bin/python3 {script}", timeoutMs: 60_000);
        // The gateway is done once every frame its sockets received has been processed and the tunnel's count has stopped
        // moving; tcpdump is done once the file holds that many GRE packets (it may still be writing what it read, and an
        // INT drops what it has not). Both polled: a fixed wait could end early on a loaded host.
        JsonNode? previous = null;
        var stats = Poll.Until(() =>
        {
            var output = new StringWriter();
            var error = new StringWriter();
            Assert.True(CommandLine.Run(["show", "stats", "--json", "--control-socket", socket], output, error) == 0, error.ToString());
            var (last, now) = (previous, JsonNode.Parse(output.ToString())!);
            previous = now;
            return (last, now);
        }, s => s.last is not null && Idle(s.last, s.now), 20).now;
        long encapPackets = stats["tunnels"]![0]!["encapPackets"]!.GetValue<long>();
        Poll.Until(() => GreSequenceNumbers(File.ReadAllBytes(pcap)).Count, count => count >= encapPackets, 20);
        GatewayLab.Run("kill", $"-INT {_capture.Id}", check: false);
        Assert.True(_capture.WaitForExit(10_000));

        int expected = Flows * SmallPerFlow + 2 * BigPackets;
        var sequence = GreSequenceNumbers(File.ReadAllBytes(pcap));
        int onWire = sequence.Count;
        for (int i = 0; i < onWire; i++)
            Assert.True(sequence[i] == (uint)i, $"packet {i} on the wire has sequence number {sequence[i]}");

        // Frames the kernel could not hand to a starved gateway (rx ring full on a loaded machine) never reach
        // FastTun: the counts below are exact relative to what each socket received.
        var interfaces = stats["interfaces"]!.AsArray();
        long eth1Rx = interfaces.First(i => (string)i!["name"]! == "eth1")!["rxPackets"]!.GetValue<long>();
        long rxLost = interfaces.Sum(i => i!["rxDropped"]!.GetValue<long>());
        long rxAll = interfaces.Sum(i => i!["rxPackets"]!.GetValue<long>());
        if (rxLost == 0) Assert.True(expected == onWire, $"{onWire} GRE packets on the wire, {expected} expected; {stats}");
        Assert.True(onWire >= expected / 2, $"{onWire} GRE packets on the wire of {expected}; {stats}");
        Assert.Equal(onWire, stats["tunnels"]![0]!["encapPackets"]!.GetValue<long>());
        var workers = stats["workers"]!.AsArray();
        Assert.Equal(2, workers.Count);
        // Both workers received part of the traffic, every frame received was processed, nothing was dropped.
        Assert.All(workers, w => Assert.True(w!["packets"]!.GetValue<long>() > Flows, w!.ToJsonString()));
        Assert.Equal(rxAll, workers.Sum(w => w!["packets"]!.GetValue<long>()));
        Assert.True(workers.All(w => w!["drops"]!.GetValue<long>() == 0), stats["drops"]!.ToJsonString());
        // Every small datagram was forwarded exactly once, by the worker that received it (sent, or handed to the
        // owner), and became one GRE packet; every big one was split in two (consumed, not counted forwarded).
        long forwarded = workers.Sum(w => w!["forwarded"]!.GetValue<long>());
        Assert.Equal(onWire, forwarded + 2 * (eth1Rx - forwarded));
        var handedOff = workers.Select(w => w!["handedOff"]!.GetValue<long>()).ToArray();
        Assert.True(handedOff.Count(h => h > 0) == 1, "exactly one worker hands packets to the tunnel's owner");
    }

    /// <summary>True when two `show stats` answers a poll apart show an idle gateway: every frame its sockets received was
    /// processed (the workers' packets sum to the interfaces' rx), and the tunnel encapsulated nothing in between.</summary>
    private static bool Idle(JsonNode before, JsonNode now)
    {
        long rxAll = now["interfaces"]!.AsArray().Sum(i => i!["rxPackets"]!.GetValue<long>());
        long processed = now["workers"]!.AsArray().Sum(w => w!["packets"]!.GetValue<long>());
        long Encap(JsonNode s) => s["tunnels"]![0]!["encapPackets"]!.GetValue<long>();
        return rxAll == processed && Encap(before) == Encap(now);
    }

    /// <summary>The GRE sequence numbers of the frames in a libpcap file, in capture order (up to a last record still
    /// being written).</summary>
    private static List<uint> GreSequenceNumbers(byte[] pcap)
    {
        var result = new List<uint>();
        int offset = 24;
        while (offset + 16 <= pcap.Length)
        {
            int captured = BinaryPrimitives.ReadInt32LittleEndian(pcap.AsSpan(offset + 8));
            if (offset + 16 + captured > pcap.Length) break; // a record tcpdump is still writing
            var frame = pcap.AsSpan(offset + 16, captured);
            offset += 16 + captured;
            if (frame.Length < 14 + 20 + 4 || frame[12] != 0x08 || frame[13] != 0x00) continue;
            var ip = frame.Slice(14);
            if (ip[9] != 47) continue;
            var gre = ip.Slice((ip[0] & 0x0F) * 4);
            ushort flags = BinaryPrimitives.ReadUInt16BigEndian(gre);
            Assert.True((flags & 0x1000) != 0, "GRE without sequence number");
            int at = 4 + ((flags & 0x8000) != 0 ? 4 : 0) + ((flags & 0x2000) != 0 ? 4 : 0);
            result.Add(BinaryPrimitives.ReadUInt32BigEndian(gre.Slice(at)));
        }
        return result;
    }

    public void Dispose()
    {
        if (_capture is { HasExited: false }) _capture.Kill();
        _capture?.Dispose();
        foreach (var p in _gateways) GatewayProcess.Stop(p);
        foreach (var ns in new[] { "src", "gw", "wire" }) GatewayLab.Run("ip", $"netns del {_prefix}{ns}", check: false);
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
