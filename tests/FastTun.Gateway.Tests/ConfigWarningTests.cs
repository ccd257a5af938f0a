using FastTun.Gateway.Config;
using static FastTun.Gateway.Tests.ConfigTestSupport;

namespace FastTun.Gateway.Tests;

/// <summary>Things VyOS and the kernel accept that deserve a warning (logged and kept in GatewayConfig.Warnings).</summary>
public class ConfigWarningTests
{
    [Fact]
    public void Parse_StaticRouteEqualToConnectedSubnet_NotInstalledAndWarned()
    {
        var config = Parse(Gw1Gre + "set protocols static route 10.1.5.0/24 next-hop 1.1.1.2\n");
        Assert.Empty(config.StaticRoutes);
        var warning = Assert.Single(config.Warnings);
        Assert.Equal(7, warning.Line);
        Assert.Contains("connected subnet of eth1", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_EthernetWithoutAddress_Warns()
    {
        var config = Parse(Gw1Gre + "set interfaces ethernet eth3\n");
        Assert.Empty(config.FindInterface("eth3")!.Addresses);
        Assert.Equal(7, Assert.Single(config.Warnings).Line);
    }

    [Fact]
    public void Parse_OverlappingSubnets_Warns()
    {
        var config = Parse(Gw1Gre + "set interfaces ethernet eth3 address '10.1.0.1/16'\n");
        Assert.Contains("overlaps 10.1.5.0/24 on eth1", Assert.Single(config.Warnings).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_DescriptionTooLong_Error() =>
        SingleError(Gw1Gre + $"set interfaces tunnel tun0 description '{new string('x', 257)}'\n", 7, "1 to 256 characters");
}
