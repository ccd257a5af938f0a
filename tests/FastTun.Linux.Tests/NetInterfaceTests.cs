using FastTun.Linux.Netlink;
using FastTun.Linux.Tests.Net;

namespace FastTun.Linux.Tests;

public class NetInterfaceTests
{
    [Fact]
    public void Get_MissingInterface_ThrowsNamingIt()
    {
        var e = Assert.Throws<NetInterfaceException>(() => NetInterface.Get("ftNoSuch0"));
        Assert.Contains("'ftNoSuch0'", e.Message);
        Assert.Contains("does not exist", e.Message);
        Assert.Equal("ftNoSuch0", e.InterfaceName);
    }

    [Fact]
    public void Get_NameTooLong_ThrowsNamingIt()
    {
        var e = Assert.Throws<NetInterfaceException>(() => NetInterface.Get("a-very-long-interface-name"));
        Assert.Contains("a-very-long-interface-name", e.Message);
    }

    [Fact]
    public void Get_Loopback_HasIndexMtuAndUp()
    {
        var lo = NetInterface.Get("lo");
        Assert.Equal(1, lo.Index);
        Assert.True(lo.IsAdminUp);
        Assert.True(lo.Mtu >= 1500);
        Assert.Contains(lo.GetIpv4Addresses(), a => a.ToString() == "127.0.0.1/8");
    }

    [RootFact]
    public void Get_Veth_MatchesIpLink()
    {
        using var veth = new VethPair(queues: 3, mtu: 1400);
        var nic = NetInterface.Get(veth.A);
        string link = Shell.Ip($"-o link show {veth.A}");
        Assert.Contains($"{nic.Index}: {veth.A}@", link);
        Assert.Contains($"link/ether {nic.MacText}", link);
        Assert.Equal(1400, nic.Mtu);
        Assert.Equal(3, nic.RxQueues);
        Assert.Equal(3, nic.TxQueues);
        Assert.True(nic.IsAdminUp);
        Assert.True(nic.HasCarrier);
        nic.RequireUp();
    }

    [RootFact]
    public void SetUp_DownVeth_BringsItUpAndRequireUpReportsEachState()
    {
        using var veth = new VethPair();
        Shell.Ip($"link set {veth.A} down");
        Shell.Ip($"link set {veth.B} down");
        var e = Assert.Throws<NetInterfaceException>(() => NetInterface.Get(veth.A).RequireUp());
        Assert.Contains($"'{veth.A}' is administratively down", e.Message);

        NetInterface.SetUp(veth.A);
        var a = NetInterface.Get(veth.A);
        Assert.True(a.IsAdminUp);
        // The peer is still down: no carrier.
        e = Assert.Throws<NetInterfaceException>(() => a.RequireUp());
        Assert.Contains($"'{veth.A}' is up but has no carrier", e.Message);

        NetInterface.SetUp(veth.B);
        NetInterface.SetUp(veth.B); // already up: no-op
        Assert.Contains("UP", Shell.Ip($"-o link show {veth.B}"));
    }

    [Fact]
    public void SetUp_MissingInterface_ThrowsNamingIt()
    {
        var e = Assert.Throws<NetInterfaceException>(() => NetInterface.SetUp("ftNoSuch1"));
        Assert.Contains("'ftNoSuch1'", e.Message);
    }

    [RootFact]
    public void GetIpv4Addresses_VethWithAddresses_ListsExactlyThem()
    {
        using var veth = new VethPair();
        Assert.Empty(NetInterface.Get(veth.A).GetIpv4Addresses());
        Shell.Ip($"addr add 10.77.1.1/24 dev {veth.A}");
        Shell.Ip($"addr add 10.77.2.9/30 dev {veth.A}");
        Shell.Ip($"addr add 10.77.3.3/24 dev {veth.B}");
        var addrs = NetInterface.Get(veth.A).GetIpv4Addresses().Select(a => a.ToString()).Order().ToArray();
        Assert.Equal(new[] { "10.77.1.1/24", "10.77.2.9/30" }, addrs);
    }

    [Fact]
    public void FromErrno_Eperm_NamesInterfaceAndPrivilege()
    {
        // EPERM is what SIOCSIFFLAGS returns without CAP_NET_ADMIN; the mapping must name the interface and the fix.
        var e = NetInterfaceException.FromErrno("eth7", "SIOCSIFFLAGS (set up)", 1);
        Assert.Contains("no permission for SIOCSIFFLAGS (set up) on interface 'eth7'", e.Message);
        Assert.Contains("root", e.Message);
        Assert.Equal(1, e.Errno);
    }
}
