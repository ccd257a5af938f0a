using System.Text.RegularExpressions;

namespace FastTun.Gateway.Tests.Netns;

/// <summary>Issue #12 item 7 end to end: the servers keep tx checksum offload on (their veths hand FastTun
/// CHECKSUM_PARTIAL frames), and TCP through the tunnel still works, with the completions counted and the remedy
/// logged once.</summary>
[Collection("netns")]
public class OffloadTests
{
    [NetnsFact]
    public void Tcp_AfXdpWithSenderOffloadOn_TransferCompletesAndRemedyLogged()
    {
        using var lab = new GatewayLab("ipip", "af_xdp", offload: true);
        Assert.Contains("tx-checksumming: on", lab.Exec("server1", "ethtool -k net0").Output);
        lab.Exec("server2", "iperf3 -s -1 -p 5203 -D");
        lab.WaitForListener("server2", 5203);
        var (code, output) = lab.Exec("server1", "timeout 20 iperf3 -c 10.1.8.10 -p 5203 -t 2 -f m", check: false, timeoutMs: 25_000);
        Assert.True(code == 0, output);
        var m = Regex.Match(output, @"([\d.]+) MBytes\s+([\d.]+) Mbits/sec\s+receiver");
        Assert.True(m.Success, output);
        Assert.True(double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 1, output);
        // The aging timer reports once a second, through the console logger's own thread: polled, up to 15 s.
        string log = lab.LogOnceItHas("gw1", 15, "partial (offloaded) TCP/UDP checksums", "ethtool -K <dev> tx off");
        Assert.Contains("partial (offloaded) TCP/UDP checksums", log);
        Assert.Contains("ethtool -K <dev> tx off", log);
        Assert.Single(Regex.Matches(log, "partial \\(offloaded\\)"));
    }
}
