using FastTun.Packets.Headers;
using System.Collections.Immutable;

namespace FastTun.Gateway.Config;

internal sealed partial class ConfigValidator
{
    /// <summary>Static neighbours live on ethernet interfaces only: tunnels are point-to-point and NOARP.</summary>
    private ImmutableArray<StaticNeighbor> Neighbors(ConfigDraft draft, ImmutableArray<EthernetInterface> interfaces)
    {
        var result = ImmutableArray.CreateBuilder<StaticNeighbor>();
        foreach (var n in draft.Neighbors)
        {
            string name = $"fasttun neighbor {Ipv4Address.Format(n.Address)}";
            int errors = _errors.Count;
            if (!n.Mac.IsSet) Error(n.FirstLine, $"{name}: mac is required");
            else if ((n.Mac.Value >> 40 & 1) != 0 || n.Mac.Value == 0)
                Error(n.Mac.Line, $"{name}: mac {n.Mac.Text} is not a unicast MAC address");
            if (interfaces.Any(e => e.Addresses.Any(a => a.Address == n.Address)))
                Error(n.FirstLine, $"{name}: is one of this gateway's own addresses");

            string? on = null;
            if (n.Interface.IsSet)
            {
                var e = interfaces.FirstOrDefault(i => i.Name == n.Interface.Value);
                if (e is null)
                    Error(n.Interface.Line, _tunnelNames.Contains(n.Interface.Value)
                        ? $"{name}: {n.Interface.Value} is a tunnel; tunnels are point-to-point and have no neighbours"
                        : $"{name}: there is no 'interfaces ethernet {n.Interface.Value}'");
                else if (!e.Addresses.Any(a => a.Contains(n.Address)))
                    Error(n.Interface.Line, $"{name}: is not on a subnet of {e.Name}");
                else on = e.Name;
            }
            else
            {
                int best = -1;
                foreach (var e in interfaces)
                    foreach (var a in e.Addresses)
                        if (a.Contains(n.Address) && a.PrefixLength > best) (best, on) = (a.PrefixLength, e.Name);
                if (on is null) Error(n.FirstLine, $"{name}: is on no ethernet interface's subnet; name one with 'interface'");
            }
            if (_errors.Count == errors) result.Add(new StaticNeighbor(n.Address, n.Mac.Value, on!));
        }
        return result.ToImmutable();
    }
}
