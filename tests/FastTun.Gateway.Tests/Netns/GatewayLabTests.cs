using System.Text.RegularExpressions;

namespace FastTun.Gateway.Tests.Netns;

/// <summary>
/// End-to-end behaviour of two real gateways in namespaces, for one (tunnel mode, driver) pair per subclass.
/// All of them share one xunit collection so labs run one after another: each lab keeps both cores busy.
/// </summary>
[Collection("netns")]
public abstract class GatewayLabTests : IClassFixture<GatewayLabTests.LabFixture>, IDisposable
{
    private readonly LabFixture _fixture;

    protected GatewayLabTests(LabFixture fixture, string mode, string driver)
    {
        _fixture = fixture;
        fixture.Ensure(mode, driver);
        _fixture.Lab?.AssertAlive();
    }

    protected GatewayLab Lab => _fixture.Lab!;
    protected abstract int TunnelMtu { get; }

    public sealed class LabFixture : IDisposable
    {
        public GatewayLab? Lab { get; private set; }

        public void Ensure(string mode, string driver)
        {
            if (Lab is null && Environment.IsPrivilegedProcess) Lab = new GatewayLab(mode, driver);
        }

        public void Dispose() => Lab?.Dispose();
    }

    public void Dispose() => _fixture.Lab?.AssertAlive();

    [NetnsFact]
    public void Ping_Server1ToServer2_RepliesWithTtl62()
    {
        var (code, output) = Lab.Exec("server1", "ping -c 3 -i 0.2 -W 2 10.1.8.10", check: false);
        Assert.True(code == 0, output);
        Assert.Contains(" 0% packet loss", output);
        Assert.Contains("ttl=62", output);
    }

    [NetnsFact]
    public void Tcp_Server1ToServer2_TransfersThroughTunnel()
    {
        Lab.Exec("server2", "iperf3 -s -1 -p 5202 -D");
        Lab.WaitForListener("server2", 5202);
        var (code, output) = Lab.Exec("server1", "timeout 20 iperf3 -c 10.1.8.10 -p 5202 -t 1 -f m", check: false, timeoutMs: 25_000);
        Assert.True(code == 0, output);
        var m = Regex.Match(output, @"([\d.]+) MBytes\s+([\d.]+) Mbits/sec\s+receiver");
        Assert.True(m.Success, output);
        Assert.True(double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 1, output);
    }

    [NetnsFact]
    public void Arp_Server1ResolvesGateway_GetsGw1Eth1Mac()
    {
        Lab.Exec("server1", "ip neigh flush dev net0");
        Lab.Exec("server1", "ping -c 1 -W 2 10.1.5.1");
        string neigh = Lab.Exec("server1", "ip -4 neigh show 10.1.5.1 dev net0").Output;
        Assert.Contains(Lab.MacOf("gw1", "eth1"), neigh);
        Assert.Matches("REACHABLE|STALE|DELAY", neigh);
    }

    [NetnsFact]
    public void Ping_EveryGatewayAddress_Answers()
    {
        foreach (var address in new[] { "10.1.5.1", "172.12.1.10", "1.1.1.1", "1.1.1.2", "172.12.1.11", "10.1.8.1" })
        {
            var (code, output) = Lab.Exec("server1", $"ping -c 2 -i 0.2 -W 2 {address}", check: false);
            Assert.True(code == 0, $"{address}: {output}");
            Assert.Contains($"from {address}", output);
        }
    }

    [NetnsFact]
    public void Ping_Ttl1_TimeExceededFromGw1()
    {
        var (_, output) = Lab.Exec("server1", "ping -c 1 -t 1 -W 2 10.1.8.10", check: false);
        Assert.Contains("From 10.1.5.1 icmp_seq=1 Time to live exceeded", output);
    }

    [NetnsFact]
    public void Traceroute_Server1ToServer2_ListsGw1Tun2Server2()
    {
        string output = Lab.Exec("server1", "traceroute -n -q 1 -w 2 -m 5 10.1.8.10").Output;
        var hops = output.Split('\n').Skip(1).Where(l => l.Trim().Length > 0).Select(l => l.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
        Assert.Equal(["10.1.5.1", "1.1.1.2", "10.1.8.10"], hops);
    }

    [NetnsFact]
    public void Ping_1500BytesDf_FragNeededWithTunnelMtu()
    {
        // A PMTU learned earlier in this lab would make server1's kernel refuse locally: forget it first.
        Lab.Exec("server1", "ip route flush cache");
        var (_, output) = Lab.Exec("server1", "ping -c 1 -M do -s 1472 -W 2 10.1.8.10", check: false);
        Assert.Contains($"Frag needed and DF set (mtu = {TunnelMtu})", output);
    }

    [NetnsFact]
    public void Ping_1500BytesNotDf_ArrivesWhole()
    {
        var (code, output) = Lab.Exec("server1", "ping -c 2 -i 0.3 -M dont -s 1472 -W 2 10.1.8.10", check: false);
        Assert.True(code == 0, output);
        Assert.Contains("1480 bytes from 10.1.8.10", output);
    }

    /// <summary>Crafted tunnel packets from the stranger (wrong outer source, and per mode a wrong key or GRE
    /// version 1) never reach server2, and the one from an unknown source gets port-unreachable back.</summary>
    [NetnsFact]
    public void Stranger_ForgedTunnelPackets_DroppedNeverForwarded()
    {
        string gw2Mac = Lab.MacOf("gw2", "eth2");
        // The watcher on server2 counts only once tcpdump says it listens (a fixed wait could send before, and the test
        // would pass without having watched).
        using var watcher = GatewayProcess.StartTcpdump(Lab.Prefix + "server2", "timeout 6 tcpdump -l -n -i net0 -c 1 icmp and icmp[4:2] == 0x4242");
        Task<string> seenTask = watcher.StandardOutput.ReadToEndAsync();
        string inner = "IP(src='10.1.5.10', dst='10.1.8.10')/ICMP(id=0x4242)/b'forged'";
        string forged = Lab.Mode == "ipip"
            ? $"[IP(src='172.12.1.99', dst='172.12.1.11')/{inner}]"
            : $"[IP(src='172.12.1.99', dst='172.12.1.11')/GRE()/{inner}, " +
              $"IP(src='172.12.1.10', dst='172.12.1.11')/GRE(version=1, proto=0x0800)/{inner}, " +
              $"IP(src='172.12.1.10', dst='172.12.1.11')/GRE(key_present=1, key=999)/{inner}]";
        // scapy's sr1 cannot match an ICMP error quoting a GRE packet to its request: sniff for it instead.
        var (_, reply) = Lab.Scapy("stranger", $"""
            pkts = {forged}
            import threading
            ready = threading.Event()
            sn = AsyncSniffer(iface='eth0', filter='icmp and src host 172.12.1.11', count=1, timeout=8, started_callback=ready.set)
            sn.start()
            ready.wait(20)  # the sniffer's socket is open: the reply cannot come before it
            for p in pkts:
                sendp(Ether(dst='{gw2Mac}')/p, iface='eth0')
            sn.join()
            r = sn.results[0] if sn.results else None
            print('REPLY', r[ICMP].type, r[ICMP].code, r[IP].src) if r is not None else print('NOREPLY')
            """);
        Assert.True(watcher.WaitForExit(20_000), "tcpdump on server2 did not end");
        string seen = seenTask.Result;
        Assert.DoesNotContain("10.1.5.10 > 10.1.8.10", seen);
        Assert.Contains("REPLY 3 3 172.12.1.11", reply); // port unreachable from the address the stranger targeted
    }

    [NetnsFact]
    public void Reload_UnderTraffic_LosesNothing()
    {
        var pinger = Task.Run(() => Lab.Exec("server1", "ping -q -c 400 -i 0.005 -W 2 10.1.8.10", check: false, timeoutMs: 30_000));
        for (int i = 0; i < 5; i++)
        {
            Thread.Sleep(250);
            Lab.Signal(i % 2 == 0 ? "gw1" : "gw2", "HUP");
        }
        var (_, output) = pinger.Result;
        Assert.Contains("400 packets transmitted, 400 received", output);
        Assert.Contains("reloaded", Lab.LogOnceItHas("gw1", 5, "reloaded"));
        Assert.Contains("reloaded", Lab.LogOnceItHas("gw2", 5, "reloaded"));
    }

    [NetnsFact]
    public void Reload_InvalidConfig_RefusedAndOldKeepsForwarding()
    {
        string path = Lab.ConfigOf("gw1");
        string good = File.ReadAllText(path);
        try
        {
            File.WriteAllText(path, good + "\nset interfaces tunnel tun0 frobnicate 'yes'\n");
            Lab.Signal("gw1", "HUP");
            // The gateway answers the signal on its control thread: on a loaded machine that can take more than a
            // second (a fixed 1 s sleep failed once under a concurrent benchmark), so the log is polled, up to 15 s.
            string log = Lab.LogOnceItHas("gw1", 15, "reload refused");
            Assert.Contains("reload refused", log);
            Assert.Contains("frobnicate", log);
            var (code, output) = Lab.Exec("server1", "ping -c 2 -i 0.2 -W 2 10.1.8.10", check: false);
            Assert.True(code == 0, output);
        }
        finally
        {
            File.WriteAllText(path, good);
        }
    }
}

public sealed class GatewayIpipAfXdpTests(GatewayLabTests.LabFixture f) : GatewayLabTests(f, "ipip", "af_xdp")
{
    protected override int TunnelMtu => 1480;
}

public sealed class GatewayGreAfXdpTests(GatewayLabTests.LabFixture f) : GatewayLabTests(f, "gre", "af_xdp")
{
    protected override int TunnelMtu => 1476;
}

public sealed class GatewayGreOptsAfXdpTests(GatewayLabTests.LabFixture f) : GatewayLabTests(f, "gre-opts", "af_xdp")
{
    protected override int TunnelMtu => 1464;
}

public sealed class GatewayIpipAfPacketTests(GatewayLabTests.LabFixture f) : GatewayLabTests(f, "ipip", "af_packet")
{
    protected override int TunnelMtu => 1480;
}

public sealed class GatewayGreAfPacketTests(GatewayLabTests.LabFixture f) : GatewayLabTests(f, "gre", "af_packet")
{
    protected override int TunnelMtu => 1476;
}

public sealed class GatewayGreOptsAfPacketTests(GatewayLabTests.LabFixture f) : GatewayLabTests(f, "gre-opts", "af_packet")
{
    protected override int TunnelMtu => 1464;
}
