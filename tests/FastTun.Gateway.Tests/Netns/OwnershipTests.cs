using System.Text.RegularExpressions;
using FastTun.Gateway.Dataplane;

namespace FastTun.Gateway.Tests.Netns;

/// <summary>Issue #12 item 1: one owner per interface, for both drivers. A second gateway on gw1's interfaces
/// refuses to start naming the interface and the owner's PID, and the first keeps forwarding without
/// duplicates; after a kill -9 of the owner, the next start takes the interfaces over.</summary>
[Collection("netns")]
public class OwnershipTests
{
    [NetnsTheory]
    [InlineData("af_xdp")]
    [InlineData("af_packet")]
    public void Run_SecondInstanceOnSameInterfaces_RefusedNamingOwnerFirstKeepsForwarding(string driver)
    {
        using var lab = new GatewayLab("ipip", driver);
        int owner = lab.PidOf("gw1");
        var (code, output) = lab.RunSecondInstance("gw1");
        Assert.Equal(1, code);
        Assert.Matches(new Regex(@"eth\d is owned by another FastTun gateway \(PID " + owner + @","), output);
        lab.AssertAlive();
        AssertPingsCleanly(lab);

        // kill -9: no cleanup by the owner. Its lock goes with it (and its bpf_link with its XDP program).
        lab.Kill9("gw1");
        lab.Restart("gw1");
        Assert.DoesNotContain("is owned by", lab.LogOf("gw1"));
        AssertPingsCleanly(lab);
    }

    private static void AssertPingsCleanly(GatewayLab lab)
    {
        var (code, output) = lab.Exec("server1", "ping -c 10 -i 0.1 -W 2 10.1.8.10", check: false);
        Assert.True(code == 0, output);
        Assert.Contains("10 received", output);
        Assert.DoesNotContain("DUP!", output);
    }
}

public class InterfaceLockTests
{
    [Fact]
    public void Acquire_Twice_SecondRefusedNamingInterfaceAndPid()
    {
        string dir = Directory.CreateTempSubdirectory("fasttun-lock-").FullName;
        try
        {
            using (var first = InterfaceLock.Acquire("edge0", dir))
            {
                var e = Assert.Throws<InvalidOperationException>(() => InterfaceLock.Acquire("edge0", dir));
                Assert.Contains($"edge0 is owned by another FastTun gateway (PID {Environment.ProcessId}", e.Message);
                Assert.StartsWith(Path.Combine(dir, "net"), first.Path);
                using var other = InterfaceLock.Acquire("edge1", dir); // another interface is free
            }
            using var again = InterfaceLock.Acquire("edge0", dir); // released on dispose
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("../etc")]
    [InlineData("..")]
    public void Acquire_BadName_Throws(string name) =>
        Assert.Throws<ArgumentException>(() => InterfaceLock.Acquire(name, Path.GetTempPath()));
}
