using FastTun.Gateway.Config;
using FastTun.Packets.Datapath;

namespace FastTun.Gateway.Dataplane;

/// <summary>What the edge protections (source checks, ARP learning) take from a configuration.</summary>
public static class EdgePolicy
{
    /// <summary>The source check of a configuration: its rp-filter mode and every own address (ethernet and
    /// tunnel), which is never a valid source of a packet received from outside.</summary>
    public static SourceCheck SourceCheckFor(GatewayConfig config) => new(config.RpFilter,
        config.Interfaces.SelectMany(i => i.Addresses.Select(a => a.Address))
            .Concat(config.Tunnels.SelectMany(t => t.Addresses.Select(a => a.Address))));

    /// <summary>(port id, network, prefix length) of every ethernet interface's connected subnet; port ids are the
    /// order of <see cref="GatewayConfig.Interfaces"/>, as in <see cref="StateBuilder"/>.</summary>
    public static IEnumerable<(ushort Port, uint Network, int Length)> ConnectedSubnets(GatewayConfig config)
    {
        for (int i = 0; i < config.Interfaces.Length; i++)
            foreach (var a in config.Interfaces[i].Addresses)
                yield return ((ushort)i, a.Network, a.PrefixLength);
    }
}
