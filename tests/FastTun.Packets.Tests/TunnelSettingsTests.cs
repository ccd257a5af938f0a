using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Tests;

public class TunnelSettingsTests
{
    private const uint L = 0xAC0C010A, R = 0xAC0C010B;

    [Fact]
    public void Mtu_EachGreOption_FourBytesLess()
    {
        Assert.Equal(1480, new TunnelSettings("t", TunnelMode.Ipip, L, R).Mtu(1500));
        Assert.Equal(1476, new TunnelSettings("t", TunnelMode.Gre, L, R).Mtu(1500));
        Assert.Equal(1472, new TunnelSettings("t", TunnelMode.Gre, L, R, key: 1).Mtu(1500));
        Assert.Equal(1468, new TunnelSettings("t", TunnelMode.Gre, L, R, key: 1, checksum: true).Mtu(1500));
        Assert.Equal(1464, new TunnelSettings("t", TunnelMode.Gre, L, R, key: 1, checksum: true, sequence: true).Mtu(1500));
        // Only output options count.
        Assert.Equal(1476, new TunnelSettings("t", TunnelMode.Gre, L, R, inputKey: 1, inputChecksum: true, inputSequence: true).Mtu(1500));
        Assert.Equal(1580, new TunnelSettings("t", TunnelMode.Ipip, L, R).Mtu(1600));
    }

    [Fact]
    public void Constructor_KeyCsumSeq_SetBothDirectionsUnlessOverridden()
    {
        var s = new TunnelSettings("t", TunnelMode.Gre, L, R, key: 5, checksum: true, sequence: true);
        Assert.Equal(5u, s.InputKey);
        Assert.Equal(5u, s.OutputKey);
        Assert.True(s.InputChecksum && s.OutputChecksum && s.InputSequence && s.OutputSequence);
        var split = new TunnelSettings("t", TunnelMode.Gre, L, R, key: 5, outputKey: 6, outputChecksum: true);
        Assert.Equal(5u, split.InputKey);
        Assert.Equal(6u, split.OutputKey);
        Assert.False(split.InputChecksum);
        Assert.True(split.OutputChecksum);
    }

    [Fact]
    public void Constructor_Defaults_MatchIproute2()
    {
        var s = new TunnelSettings("tun0", TunnelMode.Ipip, L, R);
        Assert.Equal(0, s.Ttl);
        Assert.False(s.Tos.Inherit);
        Assert.Equal(0, s.Tos.Value);
        Assert.True(s.PmtuDiscovery);
        Assert.Null(s.InputKey);
        Assert.Equal(4, s.Protocol);
        Assert.Equal("tun0 mode ipip local 172.12.1.10 remote 172.12.1.11", s.ToString());
    }

    [Fact]
    public void Constructor_GreOptionOnIpip_Throws()
    {
        Assert.Throws<ArgumentException>(() => new TunnelSettings("t", TunnelMode.Ipip, L, R, key: 1));
        Assert.Throws<ArgumentException>(() => new TunnelSettings("t", TunnelMode.Ipip, L, R, inputChecksum: true));
        Assert.Throws<ArgumentException>(() => new TunnelSettings("t", TunnelMode.Ipip, L, R, outputSequence: true));
    }

    [Fact]
    public void Constructor_NopmtudiscWithFixedTtl_Throws()
    {
        Assert.Throws<ArgumentException>(() => new TunnelSettings("t", TunnelMode.Gre, L, R, ttl: 64, pmtuDiscovery: false));
        Assert.False(new TunnelSettings("t", TunnelMode.Gre, L, R, ttl: 0, pmtuDiscovery: false).PmtuDiscovery);
    }

    [Fact]
    public void Constructor_MissingAddressesOrName_Throws()
    {
        Assert.Throws<ArgumentException>(() => new TunnelSettings("t", TunnelMode.Gre, 0, R));
        Assert.Throws<ArgumentException>(() => new TunnelSettings("t", TunnelMode.Gre, L, 0));
        Assert.Throws<ArgumentException>(() => new TunnelSettings(" ", TunnelMode.Gre, L, R));
        Assert.Throws<ArgumentException>(() => new TunnelSettings("t", (TunnelMode)7, L, R));
    }

    [Fact]
    public void TunnelTableAdd_SameReceiveKey_Throws()
    {
        var table = new TunnelTable();
        table.Add(new Tunnel(new TunnelSettings("a", TunnelMode.Gre, L, R, key: 1)));
        table.Add(new Tunnel(new TunnelSettings("b", TunnelMode.Gre, L, R, key: 2)));
        table.Add(new Tunnel(new TunnelSettings("c", TunnelMode.Gre, L, R)));
        table.Add(new Tunnel(new TunnelSettings("d", TunnelMode.Ipip, L, R)));
        Assert.Throws<ArgumentException>(() => table.Add(new Tunnel(new TunnelSettings("e", TunnelMode.Gre, L, R, inputKey: 1, outputKey: 9))));
        Assert.Throws<ArgumentException>(() => table.Add(new Tunnel(new TunnelSettings("f", TunnelMode.Ipip, L, R))));
        Assert.Equal(4, table.Count);
    }

    [Fact]
    public void TunnelTableLookup_RandomTunnelsFixedSeed_MatchesLinearOracle()
    {
        var rng = new Random(2890);
        var table = new TunnelTable();
        var all = new List<TunnelSettings>();
        // Few distinct addresses so that many tunnels share endpoints and differ only in key or mode.
        uint Addr() => 0x0A000000u | (uint)rng.Next(1, 6);
        while (all.Count < 300)
        {
            bool gre = rng.Next(3) != 0;
            uint? key = gre && rng.Next(2) == 0 ? (uint)rng.Next(0, 50) : null;
            var s = new TunnelSettings($"t{all.Count}", gre ? TunnelMode.Gre : TunnelMode.Ipip, Addr(), Addr(), key: key);
            if (all.Any(o => o.Local == s.Local && o.Remote == s.Remote && o.Protocol == s.Protocol && o.InputKey == s.InputKey)) continue;
            all.Add(s);
            table.Add(new Tunnel(s));
        }
        for (int i = 0; i < 20_000; i++)
        {
            uint src = Addr(), dst = Addr();
            byte proto = rng.Next(2) == 0 ? (byte)4 : (byte)47;
            uint? key = rng.Next(2) == 0 ? (uint)rng.Next(0, 60) : null;
            TunnelSettings? expected = all.FirstOrDefault(o => o.Remote == src && o.Local == dst && o.Protocol == proto && o.InputKey == key);
            Tunnel? got = table.Lookup(src, dst, proto, key);
            Assert.Equal(expected?.Name, got?.Name);
            Assert.Equal(all.Any(o => o.Remote == src && o.Local == dst && o.Protocol == proto), table.HasEndpoints(src, dst, proto));
        }
    }

    [Fact]
    public void TunnelTableLookup_Empty_Null()
    {
        Assert.Null(new TunnelTable().Lookup(R, L, 4, null));
        Assert.False(new TunnelTable().HasEndpoints(R, L, 4));
    }

    [Fact]
    public void TunnelTos_ToString_ShowsInheritOrHex()
    {
        Assert.Equal("inherit", TunnelTos.InheritFromInner.ToString());
        Assert.Equal("0x28", TunnelTos.Fixed(0x28).ToString());
    }
}
