namespace FastTun.Gateway.Tests.Netns;

public class BadConfigRunTests
{
    [NetnsFact]
    public void Run_BadConfigLine_ExitsOneNamingTheLine()
    {
        string path = Path.Combine(Path.GetTempPath(), $"fasttun-bad-{Environment.ProcessId}.conf");
        File.WriteAllText(path, "set interfaces ethernet eth1 address '10.1.5.1/24'\nset interfaces tunnel tun0 encapsulation 'ipip'\nset interfaces tunnel tun0 key 7\n");
        try
        {
            var (code, output) = GatewayLab.Run(Path.Combine(AppContext.BaseDirectory, "fasttun"), $"run --config {path}", check: false);
            Assert.Equal(1, code);
            Assert.Contains($"{path}:3:", output);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
