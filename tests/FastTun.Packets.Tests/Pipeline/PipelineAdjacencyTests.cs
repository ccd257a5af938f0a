using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using static FastTun.Packets.Tests.Pipeline.SeedLab;

namespace FastTun.Packets.Tests.Pipeline;

/// <summary>
/// A tunnel's outer path (its midchain adjacency) is resolved once, and follows route and neighbour changes:
/// the encapsulated packet is never looked up again, yet it never leaves by a stale path either.
/// </summary>
public sealed class PipelineAdjacencyTests
{
    private static byte[] ToServer2() => Eth(Gw1Eth1Mac, Server1Mac, Ping(Server1, Server2));

    [Fact]
    public void State_Built_TunnelAdjacencyIsEth2TowardsRemote()
    {
        using var lab = new SeedLab();
        var adjacency = lab.State1.Tunnels[0].Adjacency;
        Assert.True(adjacency.Usable);
        Assert.Equal((Eth2, Gw2Wan, 1500), (adjacency.Port, adjacency.Neighbor, adjacency.PortMtu));
    }

    [Fact]
    public void RefreshAdjacencies_RemoteNowRoutedViaGatewayOnEth1_EncapsulatedPacketsFollow()
    {
        using var lab = new SeedLab();
        const uint detour = 0x0A010563; // 10.1.5.99 on eth1
        const ulong detourMac = 0x0200000009AA;
        lab.Neighbors1.AddStatic(Eth1, detour, detourMac, 0);
        uint hop = lab.State1.AddNextHop(NextHop.Via(Eth1, detour));
        lab.State1.Routes.AddOrReplace(Gw2Wan, 32, hop);
        lab.State1.RefreshAdjacencies();

        var wire = Assert.Single(lab.Run(lab.Gw1, (Eth1, ToServer2())).Out);
        Assert.Equal(Eth1, wire.Port);
        Assert.Equal(detourMac, NeighborEntry.ReadMac(wire.Bytes));
        Assert.Equal(Gw1Eth1Mac, NeighborEntry.ReadMac(wire.Bytes.AsSpan(6)));
        Assert.True(Ipv4Header.TryParse(L3(wire.Bytes), out var outer));
        Assert.Equal((Gw1Wan, Gw2Wan), (outer.Source, outer.Destination));

        lab.State1.Routes.Delete(Gw2Wan, 32);
        lab.State1.RefreshAdjacencies();
        Assert.Equal(Eth2, Assert.Single(lab.Run(lab.Gw1, (Eth1, ToServer2())).Out).Port);
    }

    [Fact]
    public void RefreshAdjacencies_RemoteRoutedIntoTheTunnel_DroppedAsNoRoute()
    {
        using var lab = new SeedLab();
        lab.State1.Routes.AddOrReplace(Gw2Wan, 32, 0); // next hop 0: into tun0 itself
        lab.State1.RefreshAdjacencies();
        var (o, rx) = lab.Run(lab.Gw1, (Eth1, ToServer2()));
        Assert.Empty(o);
        Assert.Equal(DropReason.NoRoute, rx[0].Drop);
    }

    [Fact]
    public void Process_NeighborMacChanged_NextPacketUsesNewMac()
    {
        using var lab = new SeedLab();
        Assert.Equal(Gw2Eth2Mac, NeighborEntry.ReadMac(Assert.Single(lab.Run(lab.Gw1, (Eth1, ToServer2())).Out).Bytes));
        const ulong replaced = 0x020000000BBB;
        lab.Neighbors1.AddStatic(Eth2, Gw2Wan, replaced, 0); // same entry, new MAC
        Assert.Equal(replaced, NeighborEntry.ReadMac(Assert.Single(lab.Run(lab.Gw1, (Eth1, ToServer2())).Out).Bytes));
        Assert.True(lab.Neighbors1.Remove(Eth2, Gw2Wan)); // entry gone: the cached one must not be used
        lab.Neighbors1.AddStatic(Eth2, Gw2Wan, Gw2Eth2Mac, 0);
        Assert.Equal(Gw2Eth2Mac, NeighborEntry.ReadMac(Assert.Single(lab.Run(lab.Gw1, (Eth1, ToServer2())).Out).Bytes));
    }
}
