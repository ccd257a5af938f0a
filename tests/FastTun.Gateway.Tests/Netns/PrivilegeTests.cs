using System.Text.RegularExpressions;
using FastTun.Linux.Security;

namespace FastTun.Gateway.Tests.Netns;

/// <summary>Issue #12 item 6: capabilities instead of the uid, and none left once forwarding runs.</summary>
[Collection("netns")]
public class PrivilegeTests
{
    [NetnsTheory]
    [InlineData("af_xdp")]
    [InlineData("af_packet")]
    public void Run_StartedAsRootWithServiceUser_EveryThreadHasNoCapabilitiesAndForwards(string driver)
    {
        using var lab = new GatewayLab("ipip", driver, "set fasttun user nobody");
        int pid = lab.PidOf("gw1");
        var tasks = Directory.GetDirectories($"/proc/{pid}/task");
        Assert.True(tasks.Length > 3, $"{tasks.Length} threads");
        foreach (var task in tasks)
        {
            string status = File.ReadAllText(Path.Combine(task, "status"));
            Assert.Matches(new Regex(@"Uid:\s+65534\s+65534\s+65534\s+65534"), status);
            Assert.Equal(0UL, Capabilities.Effective(Path.Combine(task, "status")));
            Assert.Equal(0UL, Capabilities.ReadSet(Path.Combine(task, "status"), "CapPrm:"));
        }
        Assert.Contains("no capabilities", lab.LogOf("gw1"));
        var (code, output) = lab.Exec("server1", "ping -c 5 -i 0.1 -W 2 10.1.8.10", check: false);
        Assert.True(code == 0, output);
        Assert.Contains("5 received", output);
    }

    [NetnsFact]
    public void Run_WithoutCapabilities_RefusedNamingThem()
    {
        string config = Path.Combine(Path.GetTempPath(), $"fasttun-caps-{Environment.ProcessId}.conf");
        File.WriteAllText(config, """
            set interfaces ethernet edgecap0 address '10.9.9.1/24'
            set fasttun interface edgecap0 driver 'af_xdp'
            """);
        try
        {
            GatewayLab.Run("chmod", $"0644 {config}");
            var (code, output) = GatewayLab.Run("setpriv",
                $"--reuid=65534 --regid=65534 --clear-groups {GatewayProcess.Fasttun} run --config {config} --control-socket /tmp/fasttun-caps-{Environment.ProcessId}.sock",
                check: false);
            Assert.Equal(1, code);
            Assert.Contains("missing capabilities CAP_NET_ADMIN, CAP_NET_RAW, CAP_BPF", output);
        }
        finally
        {
            File.Delete(config);
        }
    }
}
