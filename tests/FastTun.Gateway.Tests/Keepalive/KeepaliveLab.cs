using System.Diagnostics;
using System.Text.Json.Nodes;
using FastTun.Gateway.Cli;
using FastTun.Gateway.Tests.Netns;

namespace FastTun.Gateway.Tests.Keepalive;

/// <summary>
/// The seed topology (bench/e2e/topology.sh, bridge underlay so frames between the gateways can be filtered in the
/// wire namespace) with gw1 a real `fasttun run` and gw2 either FastTun or a Linux-like GRE reflector (scapy: it
/// decapsulates every GRE packet to 172.12.1.11 and forwards the inner packet as a Linux router does; this kernel has
/// no gre module). Control sockets in a private directory. Everything it made is removed on dispose: processes by
/// PID, namespaces by prefix.
/// </summary>
public sealed class KeepaliveLab : SeedTopologyLab
{
    private static int s_next;

    public KeepaliveLab(string gw1Extra, string? gw2Extra)
        : base($"ka{Environment.ProcessId % 100}{Interlocked.Increment(ref s_next)}-", "fasttun-keepalive-")
    {
        Up("--underlay bridge --offload on", () =>
        {
            // Static underlay neighbours: these tests are about keepalive, not ARP (a failed entry left by a probe sent
            // before the peer runs is retried by the next packet a second later: NeighborTable.RestartFailed).
            string gw1Neighbor = $"\nset fasttun neighbor 172.12.1.11 mac '{MacOf("gw2", "eth2")}'\n";
            string gw2Neighbor = $"\nset fasttun neighbor 172.12.1.10 mac '{MacOf("gw1", "eth2")}'\n";
            if (gw2Extra is null) StartReflector();
            else Start("gw2", gw2Extra + gw2Neighbor);
            Start("gw1", gw1Extra + gw1Neighbor);
        });
    }

    private void Start(string gw, string extra)
    {
        string config = File.ReadAllText(Path.Combine(Root, "configs", $"{gw}-gre.conf")).Replace("driver 'af_xdp'", "driver 'af_packet'")
            + "\n" + extra + "\n";
        string path = ConfigOf(gw);
        File.WriteAllText(path, config);
        GatewayProcess.Start(Prefix + gw, $"run --config {path} --control-socket {SocketOf(gw)}", Path.Combine(Dir, gw + ".log"),
            log => File.Exists(SocketOf(gw)) && log.Contains(" running "), TimeSpan.FromSeconds(30), Processes);
    }

    /// <summary>What a Linux router with `ip tunnel add tun0 mode gre local 172.12.1.11 remote 172.12.1.10`,
    /// ip_forward=1 and accept_local=1 (without it Linux drops the inner packet as a martian: its source is its own
    /// address) does with a GRE packet for it: checks and strips the GRE header, and forwards the inner IPv4 packet
    /// (TTL − 1, new header checksum) to its destination, here on the connected underlay (gw1's MAC, learned by ARP
    /// in Linux).</summary>
    private void StartReflector() =>
        StartReflector(Prefix + "gw2", "eth2", "172.12.1.11", MacOf("gw1", "eth2"), Dir, Processes);

    /// <summary>Starts the Linux-like reflector in namespace <paramref name="netns"/> on <paramref name="iface"/>: every
    /// GRE packet to <paramref name="address"/> that carries GRE (a keepalive; data packets are filtered out before
    /// Python for speed, and Linux would not route them back anyway) is decapsulated and its inner packet forwarded to
    /// <paramref name="gatewayMac"/>. Logs "reflected SRC DST seq=N" (N the outer GRE sequence number, or -).</summary>
    public static void StartReflector(string netns, string iface, string address, string gatewayMac, string dir, List<Process> started)
    {
        string script = Path.Combine(dir, "reflector.py");
        string subnet = address[..(address.LastIndexOf('.') + 1)];
        File.WriteAllText(script, $$"""
            import logging, struct, sys
            logging.getLogger('scapy.runtime').setLevel(logging.ERROR)
            from scapy.all import *
            conf.verb = 0
            s = conf.L2socket(iface='{{iface}}')
            def reflect(p):
                raw = bytes(p[IP])
                ihl = (raw[0] & 15) * 4
                total = struct.unpack('!H', raw[2:4])[0]
                gre = raw[ihl:total]
                flags, proto = struct.unpack('!HH', gre[:4])
                if flags & 7 or proto != 0x0800:
                    return
                off = 4 + (4 if flags & 0x8000 else 0) + (4 if flags & 0x2000 else 0)
                seq = '-'
                if flags & 0x1000:
                    seq = struct.unpack('!I', gre[off:off + 4])[0]
                    off += 4
                inner = IP(gre[off:])
                if not inner.dst.startswith('{{subnet}}') or inner.ttl <= 1:
                    return  # Linux: only the connected underlay /24 is routed here; the rest has no route
                inner.ttl -= 1
                del inner.chksum
                s.send(Ether(dst='{{gatewayMac}}', src=get_if_hwaddr('{{iface}}')) / inner)
                print('reflected', inner.src, inner.dst, 'seq=%s' % seq, flush=True)
            print('ready', flush=True)
            # Only GRE whose inner packet is GRE again (a keepalive; outer IHL 5, GRE header 4/8/12/16 bytes) reaches
            # Python: under a data flood a Python sniffer parsing every data packet falls seconds behind the probes.
            sniff(iface='{{iface}}', prn=reflect, store=False,
                  filter='ip proto 47 and dst host {{address}} and (ip[33]=47 or ip[37]=47 or ip[41]=47 or ip[45]=47)')
            """);
        GatewayProcess.StartCommand(netns, $"/usr/bin/python3 {script}", Path.Combine(dir, "reflector.log"),
            log => log.Contains("ready"), TimeSpan.FromSeconds(30), started);
    }

    public string MacOf(string ns, string dev) => Exec(ns, $"cat /sys/class/net/{dev}/address").Output.Trim();

    /// <summary>The <c>keepalive</c> object of <paramref name="tunnel"/> in gw's <c>show tunnels --json</c>.</summary>
    public JsonObject Tunnel(string gw, string tunnel = "tun0")
    {
        var (code, output, error) = Cli(gw, "show", "tunnels", "--json");
        Assert.True(code == 0, error);
        var data = JsonNode.Parse(output)!;
        var list = (data["tunnels"] ?? data["data"]?["tunnels"])!.AsArray();
        return list.First(t => (string)t!["name"]! == tunnel)!.AsObject();
    }

    /// <summary>Polls <paramref name="condition"/> every 100 ms until it holds or <paramref name="seconds"/> pass.</summary>
    public static bool WaitFor(Func<bool> condition, double seconds) => Poll.Until(condition, holds => holds, seconds);
}
