namespace FastTun.Gateway.Tests.Netns;

/// <summary>
/// src (s0, 10.1.5.10/24, default via 10.1.5.1) — gw (eth1, eth2) — wire (w0): veth pairs with two rx and two tx queues
/// each, so a gateway in <c>gw</c> can run two workers. IPv6 is off in every namespace (no router solicitations or MLD
/// for the gateway to count as unsupported frames), and the sender's offloads are off. Addresses on gw and wire are the
/// test's own.
/// </summary>
internal static class TwoQueueTopology
{
    public static void Create(string prefix)
    {
        void Exec(string ns, string command, bool check = true) => GatewayLab.Run("ip", $"netns exec {prefix}{ns} {command}", check);
        foreach (var ns in new[] { "src", "gw", "wire" })
        {
            GatewayLab.Run("ip", $"netns add {prefix}{ns}");
            Exec(ns, "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
        }
        GatewayLab.Run("ip", $"link add s0 netns {prefix}src numtxqueues 2 numrxqueues 2 type veth peer name eth1 netns {prefix}gw numtxqueues 2 numrxqueues 2");
        GatewayLab.Run("ip", $"link add eth2 netns {prefix}gw numtxqueues 2 numrxqueues 2 type veth peer name w0 netns {prefix}wire numtxqueues 2 numrxqueues 2");
        Exec("src", "ip link set lo up");
        Exec("src", "ip link set s0 up");
        Exec("src", "ip addr add 10.1.5.10/24 dev s0");
        Exec("src", "ip route add default via 10.1.5.1");
        Exec("src", "ethtool -K s0 tx off tso off gso off", check: false);
        Exec("gw", "ip link set eth1 up");
        Exec("gw", "ip link set eth2 up");
        Exec("wire", "ip link set w0 up");
    }
}
