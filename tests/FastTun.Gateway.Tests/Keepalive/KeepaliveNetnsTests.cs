using System.Text.Json.Nodes;
using FastTun.Gateway.Control;
using FastTun.Gateway.Tests.Netns;

namespace FastTun.Gateway.Tests.Keepalive;

/// <summary>GRE keepalive between real gateways in namespaces: FastTun against FastTun, against a reflector that
/// behaves as Linux does, and failover to a floating static route while the peer does not answer.</summary>
[Collection("netns")]
public sealed class KeepaliveNetnsTests
{
    private const string Keepalive = "set interfaces tunnel tun0 parameters keepalive 1 2";

    private static List<string> Routes(KeepaliveLab lab)
    {
        var data = JsonNode.Parse(lab.Cli("gw1", "show", "routes", "--json").Out)!;
        return [.. (data["routes"] ?? data["data"]!["routes"])!.AsArray().Select(r => (string)r!["prefix"]!)];
    }

    private static long L(JsonNode? n) => n is null ? 0 : (long)n;

    [NetnsFact]
    public void Keepalive_FastTunAgainstFastTun_BothUpWithRttAndReflections()
    {
        using var lab = new KeepaliveLab(Keepalive, Keepalive);
        Assert.True(KeepaliveLab.WaitFor(() => L(lab.Tunnel("gw1")["keepalive"]!["replies"]) >= 3
            && L(lab.Tunnel("gw2")["keepalive"]!["replies"]) >= 3, 15), lab.Tunnel("gw1").ToJsonString() + lab.LogOf("gw1"));
        // Whichever gateway started first may have gone down (and up) before its peer ran: from now on, stable.
        long[] transitions = [L(lab.Tunnel("gw1")["keepalive"]!["transitions"]), L(lab.Tunnel("gw2")["keepalive"]!["transitions"])];
        long replies = L(lab.Tunnel("gw1")["keepalive"]!["replies"]);
        Assert.True(KeepaliveLab.WaitFor(() => L(lab.Tunnel("gw1")["keepalive"]!["replies"]) >= replies + 3, 10));
        foreach (var (gw, i) in new[] { ("gw1", 0), ("gw2", 1) })
        {
            var k = lab.Tunnel(gw)["keepalive"]!;
            Assert.Equal("up", (string)k["state"]!);
            Assert.Equal(transitions[i], L(k["transitions"]));
            Assert.Equal(0, transitions[i] % 2); // every down was followed by an up
            Assert.True(L(k["reflected"]) >= 2, k.ToJsonString()); // the other side's probes went back through here
            Assert.True((double)k["lastRttSeconds"]! is > 0 and < 1, k.ToJsonString());
            Assert.True((double)k["avgRttSeconds"]! is > 0 and < 1, k.ToJsonString());
        }
        // Text, Prometheus, and no drops for the probes or replies.
        var (code, text, _) = lab.Cli("gw1", "show", "tunnels");
        Assert.Equal(0, code);
        Assert.Contains("up 1/2", text, StringComparison.Ordinal);
        var stats = lab.Request("gw1", new JsonObject { ["cmd"] = "show", ["what"] = "stats" });
        string prometheus = MetricsServer.Render((stats["data"] ?? stats).AsObject());
        Assert.Contains("fasttun_tunnel_keepalive_state{tunnel=\"tun0\"} 1", prometheus, StringComparison.Ordinal);
        Assert.Contains($"fasttun_tunnel_keepalive_transitions_total{{tunnel=\"tun0\"}} {transitions[0]}", prometheus, StringComparison.Ordinal);
        Assert.Matches(@"fasttun_tunnel_keepalive_rtt_seconds\{tunnel=""tun0""\} [0-9.eE-]+", prometheus);
        var drops = (stats["data"] ?? stats)["drops"]!.AsObject();
        Assert.Equal(0, L(drops["gre-unsupported-protocol"]));
        Assert.Equal(0, L(drops["martian-source"]));
    }

    [NetnsFact]
    public void Keepalive_AgainstLinuxLikeReflector_ComesUpAndStaysUp()
    {
        using var lab = new KeepaliveLab(Keepalive + "\nset interfaces tunnel tun0 parameters ip key 42\n", gw2Extra: null);
        Assert.True(KeepaliveLab.WaitFor(() => L(lab.Tunnel("gw1")["keepalive"]!["replies"]) >= 3, 15),
            lab.Tunnel("gw1").ToJsonString() + lab.LogOf("reflector"));
        var k = lab.Tunnel("gw1")["keepalive"]!;
        Assert.Equal("up", (string)k["state"]!);
        Assert.Equal(0, L(k["stray"]));
        Assert.Contains("reflected 172.12.1.11 172.12.1.10", lab.LogOf("reflector"), StringComparison.Ordinal);
    }

    [NetnsFact]
    public void Keepalive_PeerStopsAnswering_TrafficFollowsBackupRouteAndReturns()
    {
        const string gw1 = Keepalive + """

            set interfaces tunnel tun0 parameters ip key 42

            """ + ConfigTestSupport.Gw1Tun1Ipip + """
            set protocols static route 10.1.8.0/24 next-hop 1.1.2.2 distance '10'
            """;
        const string gw2 = """
            set interfaces tunnel tun0 parameters ip key 42
            set interfaces tunnel tun1 address '1.1.2.2/24'
            set interfaces tunnel tun1 encapsulation 'ipip'
            set interfaces tunnel tun1 local-ip '172.12.1.11'
            set interfaces tunnel tun1 remote-ip '172.12.1.10'
            """;
        using var lab = new KeepaliveLab(gw1, gw2);
        // gw2 answers by tun1 (its route 10.1.5.0/24 stays via tun0 in the seed config: replace it at run time).
        Assert.Equal(0, lab.Cli("gw2", "route", "add", "10.1.5.0/24", "via", "1.1.2.1").Code);
        Assert.True(KeepaliveLab.WaitFor(() => L(lab.Tunnel("gw1")["keepalive"]!["replies"]) >= 2
            && (string)lab.Tunnel("gw1")["keepalive"]!["state"]! == "up", 15), lab.LogOf("gw1"));
        long transitions = L(lab.Tunnel("gw1")["keepalive"]!["transitions"]); // 0, or 2 if gw1 ran a while before gw2
        int logStart = lab.LogOf("gw1").Length;

        long Encap(string t) => L(lab.Tunnel("gw1", t)["encapPackets"]);
        void Ping()
        {
            var (code, output) = lab.Exec("server1", "ping -c 3 -i 0.2 -W 2 10.1.8.10", check: false);
            Assert.True(code == 0, output + lab.LogOf("gw1"));
        }

        long tun0 = Encap("tun0"), tun1 = Encap("tun1");
        Ping();
        Assert.True(Encap("tun0") >= tun0 + 3, "primary carries the traffic");
        Assert.Equal(tun1, Encap("tun1"));

        // Replies stop: gw2's tun0 changes its key, so gw1's probes match no tunnel there (IPIP tun1 unaffected).
        // (tc actions would be the natural tool, but this kernel cannot load act_gact.)
        Assert.Equal(0, lab.Cli("gw2", "tunnel", "set", "tun0", "key", "43").Code);
        Assert.True(KeepaliveLab.WaitFor(() => (string)lab.Tunnel("gw1")["keepalive"]!["state"]! == "down", 10), lab.LogOf("gw1"));
        // The verdict shows as soon as the monitor reaches it; the rebuilt state follows a moment later (the rebuild
        // runs outside the monitor's lock). Traffic is checked once the withdrawal is published: tun0's connected
        // subnet goes in the same rebuild as the routes through it.
        Assert.True(KeepaliveLab.WaitFor(() => !Routes(lab).Contains("1.1.1.0/24"), 10), string.Join(",", Routes(lab)));
        var down = lab.Tunnel("gw1")["keepalive"]!;
        Assert.Equal(transitions + 1, L(down["transitions"]));
        Assert.NotNull(down["lastChange"]);
        // tun0 still sends its probes, nothing else: its encapsulated packets less its probes sent stay the same. Both come
        // from one `show tunnels` answer (read in two, a probe sent in between counted on one side only: a flaky test on a
        // loaded host), and the last reading is polled, as the worker counts a probe sent just before its encapsulation.
        long ProbesAside()
        {
            var t = lab.Tunnel("gw1", "tun0");
            return L(t["encapPackets"]) - L(t["keepalive"]!["sent"]);
        }
        long aside = ProbesAside();
        tun1 = Encap("tun1");
        Ping();
        Assert.True(Encap("tun1") >= tun1 + 3, "the backup route via tun1 carries the traffic");
        Assert.True(KeepaliveLab.WaitFor(() => ProbesAside() == aside, 5), $"tun0 carried {ProbesAside() - aside} packet(s) besides its probes");

        // A runtime route into the down tunnel waits for it; so does tun0's connected subnet.
        Assert.Equal(0, lab.Cli("gw1", "route", "add", "10.1.9.0/24", "via", "1.1.1.2").Code);
        Assert.DoesNotContain("10.1.9.0/24", Routes(lab));
        Assert.DoesNotContain("1.1.1.0/24", Routes(lab));

        Assert.Equal(0, lab.Cli("gw2", "tunnel", "set", "tun0", "key", "42").Code);
        Assert.True(KeepaliveLab.WaitFor(() => (string)lab.Tunnel("gw1")["keepalive"]!["state"]! == "up", 10), lab.LogOf("gw1"));
        Assert.True(KeepaliveLab.WaitFor(() => Routes(lab).Contains("1.1.1.0/24"), 10), string.Join(",", Routes(lab)));
        Assert.Equal(transitions + 2, L(lab.Tunnel("gw1")["keepalive"]!["transitions"]));
        tun0 = Encap("tun0");
        tun1 = Encap("tun1");
        Ping();
        Assert.True(Encap("tun0") >= tun0 + 3, "back on the primary");
        Assert.Equal(tun1, Encap("tun1"));
        Assert.Contains("10.1.9.0/24", Routes(lab));
        Assert.Contains("1.1.1.0/24", Routes(lab));

        string log = lab.LogOnceItHas("gw1", logStart, 5, "tun0 keepalive: DOWN", "tun0 keepalive: UP");
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(log, "tun0 keepalive: DOWN"));
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(log, "tun0 keepalive: UP"));
    }

    [NetnsFact]
    public void Keepalive_RemovedByReloadWhileDown_RoutesReturnAndReaddStartsUp()
    {
        // gw2's key differs: gw1's probes match no tunnel there, so gw1's tun0 goes down and stays down.
        using var lab = new KeepaliveLab(Keepalive + "\nset interfaces tunnel tun0 parameters ip key 42\n",
            "set interfaces tunnel tun0 parameters ip key 43\n");
        Assert.True(KeepaliveLab.WaitFor(() => (string)lab.Tunnel("gw1")["keepalive"]!["state"]! == "down", 10), lab.LogOf("gw1"));
        // The withdrawal is published by a rebuild just after the verdict shows.
        Assert.True(KeepaliveLab.WaitFor(() => !Routes(lab).Contains("10.1.8.0/24"), 10), string.Join(",", Routes(lab)));

        string config = File.ReadAllText(lab.ConfigOf("gw1"));
        File.WriteAllText(lab.ConfigOf("gw1"), config.Replace(Keepalive, "", StringComparison.Ordinal));
        Assert.Equal(0, lab.Cli("gw1", "reload").Code);
        Assert.True(KeepaliveLab.WaitFor(() => Routes(lab).Contains("10.1.8.0/24"), 5), lab.LogOf("gw1"));
        Assert.Equal("off", (string)lab.Tunnel("gw1")["keepalive"]!["state"]!);
        // Logged just before the routes return, but by the console logger's own thread: it may reach the file later.
        Assert.Contains("tun0: keepalive removed", lab.LogOnceItHas("gw1", 0, 5, "tun0: keepalive removed"), StringComparison.Ordinal);

        // Re-added, the keepalive is a new machine that starts up; gw2 still refuses the key, so it goes down again after
        // its retries (2 s). Only an up → down change logs DOWN, so a DOWN line after the re-add proves it started up,
        // however late a loaded host lets this test look (polling for "up" raced the 2 s and failed under load).
        int mark = lab.LogOf("gw1").Length;
        File.WriteAllText(lab.ConfigOf("gw1"), config);
        Assert.Equal(0, lab.Cli("gw1", "reload").Code);
        Assert.True(KeepaliveLab.WaitFor(() => lab.LogOf("gw1")[mark..].Contains("tun0: keepalive every 1 s", StringComparison.Ordinal), 5), lab.LogOf("gw1"));
        Assert.True(KeepaliveLab.WaitFor(() => (string)lab.Tunnel("gw1")["keepalive"]!["state"]! == "down"
            && lab.LogOf("gw1")[mark..].Contains("tun0 keepalive: DOWN", StringComparison.Ordinal), 10), lab.LogOf("gw1"));
        Assert.Equal(1, (int)lab.Tunnel("gw1")["keepalive"]!["transitions"]!);
        Assert.True(KeepaliveLab.WaitFor(() => !Routes(lab).Contains("10.1.8.0/24"), 10), string.Join(",", Routes(lab)));
    }
}
