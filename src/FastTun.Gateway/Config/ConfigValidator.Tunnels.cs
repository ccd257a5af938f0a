using System.Collections.Immutable;

namespace FastTun.Gateway.Config;

internal sealed partial class ConfigValidator
{
    private ImmutableArray<Tunnel> Tunnels(ConfigDraft draft, ImmutableArray<EthernetInterface> interfaces,
        List<ConnectedRoute> connected, ImmutableArray<StaticRoute> routes)
    {
        var result = ImmutableArray.CreateBuilder<Tunnel>();
        var received = new Dictionary<(TunnelMode, uint, uint, uint?), Tunnel>(); // what each tunnel receives: no O(n²) scan on a hub
        foreach (var t in draft.Tunnels)
        {
            _tunnelNames.Add(t.Name);
            var clash = draft.Ethernets.Find(e => e.Name == t.Name);
            if (clash is not null) Error(t.FirstLine, $"tunnel {t.Name}: an ethernet interface has the same name (line {clash.FirstLine})");
        }
        foreach (var t in draft.Tunnels)
        {
            var tunnel = Tunnel(t, interfaces, connected, routes);
            if (tunnel is null) continue;
            if (!received.TryAdd((tunnel.Mode, tunnel.Local, tunnel.Remote, tunnel.InputKey), tunnel)
                && received[(tunnel.Mode, tunnel.Local, tunnel.Remote, tunnel.InputKey)] is var twin)
                Error(t.FirstLine, $"tunnel {t.Name}: {twin.Name} already has the same encapsulation, local-ip, remote-ip and key; received packets could not be told apart");
            result.Add(tunnel);
        }
        return result.ToImmutable();
    }

    private Tunnel? Tunnel(TunnelDraft t, ImmutableArray<EthernetInterface> interfaces, List<ConnectedRoute> connected, ImmutableArray<StaticRoute> routes)
    {
        string name = $"tunnel {t.Name}";
        int errors = _errors.Count;
        if (!t.Encapsulation.IsSet && !t.EncapsulationRejected) Error(t.FirstLine, $"{name}: must configure the tunnel encapsulation (ipip or gre)");
        if (!t.Local.IsSet) Error(t.FirstLine, $"{name}: must configure the tunnel local-ip");
        else if (t.Local.Value == 0) Error(t.Local.Line, $"{name}: local-ip 0.0.0.0 (any) is not supported; name one of the gateway's addresses");
        if (!t.Remote.IsSet) Error(t.FirstLine, $"{name}: must configure the tunnel remote-ip (FastTun tunnels are point-to-point; there is no multipoint GRE)");
        else if (t.Remote.Value == 0 || t.Remote.Value >> 28 >= 0xe) Error(t.Remote.Line, $"{name}: remote-ip {t.Remote.Text} is not a unicast address");
        if (t.Local.IsSet && t.Remote.IsSet && t.Local.Value == t.Remote.Value) Error(t.Remote.Line, $"{name}: remote-ip is the same as local-ip");

        var mode = t.Encapsulation.IsSet ? t.Encapsulation.Value : TunnelMode.Ipip;
        if (t.Encapsulation.IsSet && mode != TunnelMode.Gre)
        {
            GreOnly(t, t.Key.IsSet, t.Key.Line, "key");
            GreOnly(t, t.InputKey.IsSet, t.InputKey.Line, "ikey");
            GreOnly(t, t.OutputKey.IsSet, t.OutputKey.Line, "okey");
            GreOnly(t, t.Checksum.IsSet, t.Checksum.Line, "checksum");
            GreOnly(t, t.InputChecksum.IsSet, t.InputChecksum.Line, "input-checksum");
            GreOnly(t, t.OutputChecksum.IsSet, t.OutputChecksum.Line, "output-checksum");
            GreOnly(t, t.Sequence.IsSet, t.Sequence.Line, "sequence");
            GreOnly(t, t.InputSequence.IsSet, t.InputSequence.Line, "input-sequence");
            GreOnly(t, t.OutputSequence.IsSet, t.OutputSequence.Line, "output-sequence");
            if (t.Keepalive.IsSet)
                Error(t.Keepalive.Line, $"tunnel {t.Name}: parameters keepalive is only valid for GRE (encapsulation ipip at line {t.Encapsulation.Line}): a keepalive is a GRE packet inside a GRE packet, which an IPIP peer cannot return");
        }
        KeyAgrees(t, t.InputKey, "ikey");
        KeyAgrees(t, t.OutputKey, "okey");
        uint? inputKey = t.InputKey.IsSet ? t.InputKey.Value : t.Key.IsSet ? t.Key.Value : null;
        uint? outputKey = t.OutputKey.IsSet ? t.OutputKey.Value : t.Key.IsSet ? t.Key.Value : null;

        byte ttl = t.Ttl.IsSet ? t.Ttl.Value : DefaultTtl;
        bool pmtud = !t.PathMtuDiscovery.IsSet || t.PathMtuDiscovery.Value;
        if (!pmtud && ttl != 0)
            Error(t.PathMtuDiscovery.Line, $"{name}: pmtu-discovery disable needs parameters ip ttl inherit (ip tunnel: \"ttl != 0 and nopmtudisc are incompatible\"); the ttl is {ttl}{(t.Ttl.IsSet ? "" : " by default")}");
        var tos = t.Tos.IsSet ? t.Tos.Value : DefaultTos;
        if (!tos.Inherit && (tos.Value & 1) != 0)
        {
            Warn(t.Tos.Line, $"{name}: tos {t.Tos.Text} has bit 0 set, which the kernel reads as 'inherit'; using inherit");
            tos = TunnelTos.Inherited;
        }
        bool multicast = t.Multicast.IsSet && t.Multicast.Value;
        if (multicast) Warn(t.Multicast.Line, $"{name}: multicast enable has no effect; FastTun forwards unicast only");

        if (_errors.Count > errors || !t.Encapsulation.IsSet) return null;
        uint local = t.Local.Value, remote = t.Remote.Value;
        if (connected.Exists(c => c.Source == remote))
        {
            Error(t.Remote.Line, $"{name}: remote-ip {t.Remote.Text} is one of this gateway's own addresses");
            return null;
        }
        if (!interfaces.Any(e => e.Addresses.Any(a => a.Address == local)))
            Warn(t.Local.Line, $"{name}: local-ip {t.Local.Text} is not an address of any ethernet interface; tunnel packets to it will not be received (VyOS and the kernel accept this)");
        if (!TryUnderlay(t, connected, routes, out string underlay, out uint nextHop)) return null;
        if (t.Dev.IsSet && t.Dev.Value != underlay)
        {
            Error(t.Dev.Line, $"{name}: dev {t.Dev.Value}, but remote {t.Remote.Text} is reached through {underlay}; FastTun sends the outer packets where the route to the remote leads");
            return null;
        }

        var tunnel = new Tunnel(t.Name, mode, local, remote, [.. t.Addresses.Select(a => a.Address)], ttl, tos, pmtud,
            inputKey, outputKey,
            t.Checksum.IsSet || t.InputChecksum.IsSet, t.Checksum.IsSet || t.OutputChecksum.IsSet,
            t.Sequence.IsSet || t.InputSequence.IsSet, t.Sequence.IsSet || t.OutputSequence.IsSet,
            0, t.Mtu.IsSet, underlay, nextHop, multicast, t.Description.IsSet ? t.Description.Value : null)
        {
            Keepalive = t.Keepalive.IsSet ? t.Keepalive.Value : null,
        };
        int underlayMtu = interfaces.First(e => e.Name == underlay).Mtu;
        int defaultMtu = underlayMtu - tunnel.Overhead;
        int mtu = defaultMtu;
        if (t.Mtu.IsSet)
        {
            mtu = t.Mtu.Value;
            int max = MaxPacketSize - tunnel.Overhead;
            if (mtu < MinIpv4Mtu || mtu > max)
            {
                Error(t.Mtu.Line, $"{name}: mtu {mtu} is outside {MinIpv4Mtu}..{max} ({MaxPacketSize} less the {tunnel.Overhead}-byte {Describe(mode)} overhead)");
                return null;
            }
            if (mtu > defaultMtu)
                Warn(t.Mtu.Line, $"{name}: mtu {mtu} exceeds the {defaultMtu} that fits in {underlay}'s mtu {underlayMtu}; larger packets will not fit on the underlay");
        }
        else if (defaultMtu < MinIpv4Mtu)
        {
            Error(t.FirstLine, $"{name}: {underlay}'s mtu {underlayMtu} leaves {defaultMtu} for the tunnel, less than {MinIpv4Mtu}");
            return null;
        }
        return tunnel with { Mtu = mtu };
    }

    private static string Describe(TunnelMode mode) => mode == TunnelMode.Ipip ? "ipip" : "gre";

    private void GreOnly(TunnelDraft t, bool isSet, int line, string what)
    {
        if (isSet)
            Error(line, $"tunnel {t.Name}: parameters ip {what} is only valid for GRE (encapsulation ipip at line {t.Encapsulation.Line})");
    }

    private void KeyAgrees(TunnelDraft t, Leaf<uint> directional, string what)
    {
        if (t.Key.IsSet && directional.IsSet && t.Key.Value != directional.Value)
            Error(directional.Line, $"tunnel {t.Name}: {what} {directional.Text} conflicts with key {t.Key.Text} (line {t.Key.Line}), which sets both directions");
    }

    /// <summary>
    /// Routes the remote endpoint the way the kernel routes the outer packet: longest prefix over the connected
    /// subnets and static routes, a connected subnet winning a tie. The result must be an ethernet interface.
    /// </summary>
    private bool TryUnderlay(TunnelDraft t, List<ConnectedRoute> connected, ImmutableArray<StaticRoute> routes, out string underlay, out uint nextHop)
    {
        underlay = "";
        nextHop = 0;
        int bestLength = -1;
        foreach (var c in connected)
        {
            if (ConfigIpv4.Contains(c.Prefix, c.PrefixLength, t.Remote.Value) && c.PrefixLength > bestLength)
                (bestLength, underlay, nextHop) = (c.PrefixLength, c.Interface, t.Remote.Value);
        }
        StaticRoute? viaRoute = null;
        foreach (var r in routes)
        {
            if (ConfigIpv4.Contains(r.Prefix, r.PrefixLength, t.Remote.Value) && r.PrefixLength > bestLength)
            {
                bestLength = r.PrefixLength;
                viaRoute = r;
            }
        }
        if (viaRoute is not null)
        {
            if (viaRoute.Blackhole || viaRoute.Paths.Length != 1)
            {
                Error(t.Remote.Line, $"tunnel {t.Name}: remote-ip {t.Remote.Text} is routed by {viaRoute}; the underlay must be one path (no blackhole, no ECMP)");
                return false;
            }
            var path = viaRoute.Paths[0];
            (underlay, nextHop) = (path.Interface, path.Gateway == 0 ? t.Remote.Value : path.Gateway);
        }
        if (bestLength < 0)
        {
            Error(t.Remote.Line, $"tunnel {t.Name}: remote-ip {t.Remote.Text} is not reachable: no connected subnet or static route holds it");
            return false;
        }
        if (!_tunnelNames.Contains(underlay)) return true;
        Error(t.Remote.Line, $"tunnel {t.Name}: remote-ip {t.Remote.Text} is routed through tunnel {underlay}; the underlay must be an ethernet interface");
        return false;
    }
}
