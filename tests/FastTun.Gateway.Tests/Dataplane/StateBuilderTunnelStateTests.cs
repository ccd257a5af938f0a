using FastTun.Gateway.Dataplane;
using static FastTun.Gateway.Tests.ConfigTestSupport;

namespace FastTun.Gateway.Tests.Dataplane;

/// <summary>A tunnel's receive sequence window and meter across reloads and <c>tunnel set</c>: kept through every
/// change of the tunnel, restarted only when it is deleted.</summary>
public class StateBuilderTunnelStateTests
{
    private static readonly PortFacts[] Ports = [new("eth1", 0x020000000001, 1500), new("eth2", 0x020000000002, 1500)];

    private static Dictionary<string, FastTun.Packets.Tunnels.Tunnel> Previous(FastTun.Packets.Datapath.ForwardingState s) =>
        s.Tunnels.ToDictionary(t => t.Tunnel.Name, t => t.Tunnel);

    [Fact]
    public void Build_TunnelWireSettingsChanged_SequenceMeterCarriedOver()
    {
        var first = StateBuilder.Build(Parse(Gw1Gre + "set interfaces tunnel tun0 parameters ip sequence\n"), Ports);
        var meter = first.Tunnels[0].Tunnel.SequenceMeter;
        for (uint s = 0; s < 10; s++) meter.Observe(s);

        var changed = StateBuilder.Build(Parse(Gw1Gre + "set interfaces tunnel tun0 parameters ip sequence\nset interfaces tunnel tun0 parameters ip ttl 64\n"),
            Ports, Previous(first));
        Assert.NotSame(first.Tunnels[0].Tunnel, changed.Tunnels[0].Tunnel); // new wire settings: a new tunnel
        Assert.Same(meter, changed.Tunnels[0].Tunnel.SequenceMeter);
        Assert.Equal(10u, changed.Tunnels[0].Tunnel.SequenceMeter.NextExpected);

        var reloaded = StateBuilder.Build(Parse(Gw1Gre + "set interfaces tunnel tun0 parameters ip sequence\nset interfaces tunnel tun0 parameters ip ttl 64\n"),
            Ports, Previous(changed));
        Assert.Same(meter, reloaded.Tunnels[0].Tunnel.SequenceMeter);
    }

    [Fact]
    public void Build_TunnelDeletedThenAddedAgain_SequenceMeterRestarts()
    {
        var first = StateBuilder.Build(Parse(Gw1Gre), Ports);
        first.Tunnels[0].Tunnel.SequenceMeter.Observe(7);
        string withoutTunnel = string.Join('\n', Gw1Gre.Split('\n').Where(l => !l.Contains("tunnel", StringComparison.Ordinal)));
        var deleted = StateBuilder.Build(Parse(withoutTunnel), Ports, Previous(first));
        Assert.Empty(deleted.Tunnels);
        var again = StateBuilder.Build(Parse(Gw1Gre), Ports, Previous(deleted));
        Assert.Equal(0, again.Tunnels[0].Tunnel.SequenceMeter.Received);
    }
}

/// <summary>#12 item 2 through the state builder: `tunnel set` (new wire settings) keeps counters and the GRE output
/// sequence of the tunnel it replaces.</summary>
public class StateBuilderTunnelChangeTests
{
    private static readonly PortFacts[] Ports = [new("eth1", 0x020000000001, 1500), new("eth2", 0x020000000002, 1500)];

    [Fact]
    public void Build_TtlChanged_NewTunnelGoesOnWithCountersAndSequence()
    {
        var first = StateBuilder.Build(Parse(Gw1Gre + "set interfaces tunnel tun0 parameters ip sequence\n"), Ports);
        var old = first.Tunnels[0].Tunnel;
        old.Slots[0].EncapPackets = 1_896_669;
        for (int i = 0; i < 625; i++) old.NextTxSequence();
        var changed = StateBuilder.Build(Parse(Gw1Gre + "set interfaces tunnel tun0 parameters ip sequence\nset interfaces tunnel tun0 parameters ip ttl 64\n"),
            Ports, first.Tunnels.ToDictionary(t => t.Tunnel.Name, t => t.Tunnel));
        var now = changed.Tunnels[0].Tunnel;
        Assert.NotSame(old, now);
        Assert.Equal(1_896_669, now.EncapPackets);
        Assert.Equal(625u, now.NextTxSequence());
    }
}
