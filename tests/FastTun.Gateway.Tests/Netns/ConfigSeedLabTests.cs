using System.Diagnostics;
using FastTun.Gateway.Config;

namespace FastTun.Gateway.Tests.Netns;

/// <summary>
/// The tunnel blocks of seeds 000-003, loaded as written (iproute2 dialect, format detected) into a two-gateway
/// topology of real <c>fasttun run</c> processes: server1 —eth2 gw1 eth1— underlay —eth1 gw2 eth2— server2.
/// The underlay is eth1, as seed 001's <c>dev eth1</c> names it; each gateway's file is the test topology's LAN
/// and underlay addresses, the seed's block unchanged, and one route to the far LAN into the seed's tunnel.
/// server1 pings server2 through the tunnel, and pings the far end's tunnel address over the seed's own route.
/// </summary>
public sealed class ConfigSeedLabTests
{
    private static int s_next;

    private sealed class Lab : IDisposable
    {
        private readonly List<Process> _gateways = [];
        private readonly string _dir = Directory.CreateTempSubdirectory("fasttun-config-lab-").FullName;
        public string Prefix { get; } = $"cfg{Environment.ProcessId % 100}{Interlocked.Increment(ref s_next)}-";

        public Lab(string seed)
        {
            try
            {
                foreach (var ns in new[] { "s1", "gw1", "gw2", "s2" }) GatewayLab.Run("ip", $"netns add {Prefix}{ns}");
                Veth("s1", "eth0", "gw1", "eth2");
                Veth("gw1", "eth1", "gw2", "eth1");
                Veth("gw2", "eth2", "s2", "eth0");
                foreach (var gw in new[] { "gw1", "gw2" })
                {
                    Exec(gw, "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
                    Exec(gw, "ip link set eth1 up");
                    Exec(gw, "ip link set eth2 up");
                }
                Server("s1", "10.1.5.10/24", "10.1.5.1");
                Server("s2", "10.1.8.10/24", "10.1.8.1");
                for (int side = 0; side < 2; side++)
                {
                    string block = ConfigIproute2Tests.SeedTunnelBlock(seed, side);
                    string tunnel = block.Split("ip tunnel add ")[1].Split(' ')[0];
                    string farLan = side == 0 ? "10.1.8.0/24" : "10.1.5.0/24";
                    string text = ConfigIproute2Tests.SeedGateway(seed, side, "af_packet", $"# test topology: the far LAN through the seed's tunnel\nip route add {farLan} dev {tunnel}\n");
                    string gw = side == 0 ? "gw1" : "gw2";
                    File.WriteAllText(ConfigOf(gw), text);
                    GatewayProcess.Start(Prefix + gw, $"run --config {ConfigOf(gw)} --control-socket {SocketOf(gw)}", Path.Combine(_dir, gw + ".log"),
                        log => log.Contains(" running "), TimeSpan.FromSeconds(20), _gateways);
                }
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public string ConfigOf(string gw) => Path.Combine(_dir, gw + ".sh");
        public string SocketOf(string gw) => Path.Combine(_dir, gw + ".sock");
        public string LogOf(string gw) => File.ReadAllText(Path.Combine(_dir, gw + ".log"));

        public (int Code, string Output) Exec(string ns, string command, bool check = true) =>
            GatewayLab.Run("ip", $"netns exec {Prefix}{ns} {command}", check);

        private void Veth(string nsA, string a, string nsB, string b) =>
            GatewayLab.Run("ip", $"link add {a} netns {Prefix}{nsA} type veth peer name {b} netns {Prefix}{nsB}");

        private void Server(string ns, string address, string gateway)
        {
            Exec(ns, "ip link set lo up");
            Exec(ns, "ip link set eth0 up");
            Exec(ns, $"ip addr add {address} dev eth0");
            Exec(ns, $"ip route add default via {gateway}");
        }

        public void Dispose()
        {
            foreach (var p in _gateways) GatewayProcess.Stop(p);
            foreach (var ns in new[] { "s1", "gw1", "gw2", "s2" }) GatewayLab.Run("ip", $"netns del {Prefix}{ns}", check: false);
            try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
        }
    }

    [NetnsTheory]
    [InlineData("000", "10.10.200.10")]
    [InlineData("001", "172.0.0.3")]
    [InlineData("002", "192.168.1.254")]
    [InlineData("003", "192.168.10.2")]
    public void Run_SeedTunnelBlockAsWritten_PingsEndToEnd(string seed, string farTunnelAddress)
    {
        using var lab = new Lab(seed);
        var toServer = lab.Exec("s1", "ping -c 3 -i 0.2 -W 2 10.1.8.10", check: false);
        Assert.True(toServer.Code == 0, $"server1 → server2 over seed {seed}'s tunnel: {toServer.Output}\ngw1:\n{lab.LogOf("gw1")}\ngw2:\n{lab.LogOf("gw2")}");
        Assert.Contains("3 received", toServer.Output, StringComparison.Ordinal);
        var toTunnel = lab.Exec("s1", $"ping -c 2 -i 0.2 -W 2 {farTunnelAddress}", check: false);
        Assert.True(toTunnel.Code == 0, $"server1 → {farTunnelAddress} (the seed's own route): {toTunnel.Output}");

        // The running configuration, printed by the gateway in each format, loads back into the file's model.
        var file = GatewayConfig.Load(lab.ConfigOf("gw1"), new CapturingLogger());
        foreach (var format in new[] { "set", "boot", "iproute2" })
        {
            var shown = GatewayLab.Run(GatewayProcess.Fasttun, $"config show --format {format} --control-socket {lab.SocketOf("gw1")}");
            ConfigTestSupport.AssertSameModel(file, GatewayConfig.Parse(shown.Output, $"running.{format}", new CapturingLogger()));
        }
    }
}

/// <summary>A theory that needs root and network namespaces; skipped with the reason otherwise.</summary>
public sealed class NetnsTheoryAttribute : TheoryAttribute
{
    public NetnsTheoryAttribute()
    {
        if (!Environment.IsPrivilegedProcess) Skip = "needs root for network namespaces and veth: run make test as root";
    }
}
