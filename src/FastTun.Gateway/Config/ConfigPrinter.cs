using FastTun.Packets.Headers;
using System.Globalization;
using System.Text;

namespace FastTun.Gateway.Config;

/// <summary>
/// Prints a <see cref="GatewayConfig"/> in any of the three formats (<c>fasttun config show --format
/// set|boot|iproute2</c>). Each output loads back into the same model (<see cref="GatewayConfig.SameModel"/>):
/// values that equal the format's defaults are left out, everything else is written, and what a format cannot
/// say goes into FastTun's own lines (<c>set fasttun ...</c>; in iproute2, <c># fasttun ...</c> or a
/// <c>set</c> line).
/// </summary>
public static class ConfigPrinter
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Print(GatewayConfig config, ConfigFormat format) => format switch
    {
        ConfigFormat.Boot => Boot(config),
        ConfigFormat.Iproute2 => Iproute2(config),
        _ => string.Join('\n', SetLines(config).Select(l => "set " + string.Join(' ', l))) + "\n",
    };

    /// <summary>The set lines as words (without the leading <c>set</c>), values quoted as VyOS prints them.</summary>
    private static List<string[]> SetLines(GatewayConfig c)
    {
        var lines = new List<string[]>();
        foreach (var e in c.Interfaces)
        {
            string[] at = ["interfaces", "ethernet", e.Name];
            int before = lines.Count;
            foreach (var a in e.Addresses) lines.Add([.. at, .. AddressWords(a)]);
            if (e.Description is { } d) lines.Add([.. at, "description", Q(d)]);
            if (e.HwId is { } hw) lines.Add([.. at, "hw-id", Q(StaticNeighbor.FormatMac(hw))]);
            if (e.MtuConfigured) lines.Add([.. at, "mtu", Q(N(e.Mtu))]);
            if (lines.Count == before) lines.Add(at);
        }
        foreach (var t in c.Tunnels) lines.AddRange(TunnelLines(t, includeEndpoints: true));
        foreach (var r in c.StaticRoutes.Concat(c.StandbyRoutes))
        {
            string p = ConfigIpv4.FormatPrefix(r.Prefix, r.PrefixLength);
            string[] distance = r.Distance == 1 ? [] : ["distance", Q(N(r.Distance))];
            if (r.Blackhole) { lines.Add(["protocols", "static", "route", p, "blackhole", .. distance]); continue; }
            foreach (var path in r.Paths)
                lines.Add(path.Gateway == 0
                    ? ["protocols", "static", "interface-route", p, "next-hop-interface", path.Interface, .. distance]
                    : ["protocols", "static", "route", p, "next-hop", Ipv4Address.Format(path.Gateway), .. distance]);
        }
        lines.AddRange(FastTunLines(c));
        return lines;
    }

    private static string[] AddressWords(InterfaceAddress a) => a.HasPeer
        ? ["address", Q(Ipv4Address.Format(a.Address)), "peer", Q(ConfigIpv4.FormatPrefix(a.Peer, a.PrefixLength))]
        : ["address", Q(a.ToString())];

    /// <summary>A tunnel's set lines; without the endpoints and addresses for the iproute2 form, which has them
    /// on its ip tunnel and ip addr lines.</summary>
    private static IEnumerable<string[]> TunnelLines(Tunnel t, bool includeEndpoints)
    {
        string[] at = ["interfaces", "tunnel", t.Name];
        string[] ip = [.. at, "parameters", "ip"];
        if (includeEndpoints)
        {
            foreach (var a in t.Addresses) yield return [.. at, .. AddressWords(a)];
            yield return [.. at, "encapsulation", Q(t.Mode == TunnelMode.Ipip ? "ipip" : "gre")];
            yield return [.. at, "local-ip", Q(Ipv4Address.Format(t.Local))];
            yield return [.. at, "remote-ip", Q(Ipv4Address.Format(t.Remote))];
            if (t.MtuConfigured) yield return [.. at, "mtu", Q(N(t.Mtu))];
            if (t.Ttl != ConfigValidator.DefaultTtl) yield return [.. ip, "ttl", Q(t.Ttl == 0 ? "inherit" : N(t.Ttl))];
            if (t.Tos != ConfigValidator.DefaultTos) yield return [.. ip, "tos", Q(t.Tos.Inherit ? "inherit" : t.Tos.Value.ToString("x2", Inv))];
            if (t.InputKey == t.OutputKey && t.InputKey is uint key) yield return [.. ip, "key", Q(N(key))];
            else
            {
                if (t.InputKey is uint ikey) yield return [.. ip, "ikey", Q(N(ikey))];
                if (t.OutputKey is uint okey) yield return [.. ip, "okey", Q(N(okey))];
            }
            if (t.InputChecksum && t.OutputChecksum) yield return [.. ip, "checksum"];
            else if (t.InputChecksum) yield return [.. ip, "input-checksum"];
            else if (t.OutputChecksum) yield return [.. ip, "output-checksum"];
            if (t.InputSequence && t.OutputSequence) yield return [.. ip, "sequence"];
            else if (t.InputSequence) yield return [.. ip, "input-sequence"];
            else if (t.OutputSequence) yield return [.. ip, "output-sequence"];
            if (!t.PathMtuDiscovery) yield return [.. ip, "pmtu-discovery", Q("disable")];
        }
        if (t.Keepalive is { } keepalive) yield return [.. at, "parameters", "keepalive", Q(N(keepalive.IntervalSeconds)), Q(N(keepalive.Retries))];
        if (t.Multicast) yield return [.. at, "multicast", Q("enable")];
        if (t.Description is { } d) yield return [.. at, "description", Q(d)];
    }

    private static IEnumerable<string[]> FastTunLines(GatewayConfig c)
    {
        foreach (var e in c.Interfaces)
        {
            if (e.Driver == PortDriver.AfXdp) yield return ["fasttun", "interface", e.Name, "driver", Q("af_xdp")];
            if (e.Queues != 1) yield return ["fasttun", "interface", e.Name, "queues", Q(N(e.Queues))];
        }
        if (c.Workers is int w) yield return ["fasttun", "workers", Q(N(w))];
        if (c.ControlSocket is { } socket) yield return ["fasttun", "control-socket", Q(socket)];
        if (c.RpFilter != Packets.Datapath.RpFilterMode.Loose) yield return ["fasttun", "rp-filter", Q(c.RpFilter.ToString().ToLowerInvariant())]; // edge
        if (c.User is { } user) yield return ["fasttun", "user", Q(user)]; // edge
        if (!c.UnknownTunnelUnreachable) yield return ["fasttun", "icmp-unreachable-for-unknown-tunnels", Q("disable")];
        foreach (var n in c.Neighbors)
        {
            string a = Ipv4Address.Format(n.Address);
            yield return ["fasttun", "neighbor", a, "mac", Q(StaticNeighbor.FormatMac(n.Mac))];
            yield return ["fasttun", "neighbor", a, "interface", n.Interface];
        }
    }

    // ---- config.boot: the set lines folded into nodes ----

    /// <summary>Nodes that take a value (tag nodes: <c>ethernet eth1 {</c>); every other inner word is a plain node.</summary>
    private static readonly HashSet<string> TagNodes = ["ethernet", "tunnel", "loopback", "route", "interface-route", "next-hop",
        "next-hop-interface", "interface", "neighbor"];
    private static readonly HashSet<string> PlainNodes = ["interfaces", "protocols", "static", "parameters", "ip", "fasttun", "blackhole"];

    private sealed class BootNode(string head)
    {
        public string Head { get; } = head;
        public List<BootNode> Children { get; } = [];
        public List<string> Leaves { get; } = [];
        public List<bool> Order { get; } = []; // true: next child node, false: next leaf
    }

    private static string Boot(GatewayConfig c)
    {
        var root = new BootNode("");
        foreach (var words in SetLines(c))
        {
            var node = root;
            int i = 0;
            while (i < words.Length)
            {
                string w = Unquote(words[i]);
                string? head = null;
                if (TagNodes.Contains(w) && i + 1 < words.Length) { head = $"{w} {BootValue(Unquote(words[i + 1]))}"; i += 2; }
                else if (PlainNodes.Contains(w) && i + 1 < words.Length) { head = w; i++; }
                if (head is null)
                {
                    node.Leaves.Add(string.Join(' ', words.Skip(i).Select(x => BootValue(Unquote(x)))));
                    node.Order.Add(false);
                    break;
                }
                var child = node.Children.Find(n => n.Head == head);
                if (child is null)
                {
                    child = new BootNode(head);
                    node.Children.Add(child);
                    node.Order.Add(true);
                }
                node = child;
            }
        }
        var s = new StringBuilder();
        WriteChildren(root, s, 0);
        s.Append("/* Written by fasttun config show --format boot */\n");
        return s.ToString();
    }

    private static void WriteChildren(BootNode node, StringBuilder s, int depth)
    {
        int child = 0, leaf = 0;
        string pad = new(' ', depth * 4);
        foreach (bool isChild in node.Order)
        {
            if (!isChild) { s.Append(pad).Append(node.Leaves[leaf++]).Append('\n'); continue; }
            var n = node.Children[child++];
            s.Append(pad).Append(n.Head).Append(" {\n");
            WriteChildren(n, s, depth + 1);
            s.Append(pad).Append("}\n");
        }
    }

    private static string BootValue(string v) =>
        v.Length > 0 && v.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '.' or '/' or '-' or '_' or ':') ? v
        : "\"" + v.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    // ---- iproute2 ----

    private static string Iproute2(GatewayConfig c)
    {
        var s = new StringBuilder();
        s.Append("# FastTun configuration as iproute2 commands (fasttun config show --format iproute2)\n");
        foreach (var e in c.Interfaces)
        {
            s.Append(Inv, $"ip link set dev {e.Name} up\n");
            if (e.MtuConfigured) s.Append(Inv, $"ip link set dev {e.Name} mtu {e.Mtu}\n");
            foreach (var a in e.Addresses) s.Append(Inv, $"ip addr add {IpAddress(a)} dev {e.Name}\n");
            if (e.Addresses.IsEmpty) s.Append(Inv, $"set interfaces ethernet {e.Name}\n");
            if (e.Description is { } d) s.Append(Inv, $"set interfaces ethernet {e.Name} description {Q(d)}\n");
            if (e.HwId is { } hw) s.Append(Inv, $"set interfaces ethernet {e.Name} hw-id {Q(StaticNeighbor.FormatMac(hw))}\n");
        }
        foreach (var t in c.Tunnels)
        {
            var line = new StringBuilder(string.Create(Inv, $"ip tunnel add {t.Name} mode {(t.Mode == TunnelMode.Ipip ? "ipip" : "gre")} local {Ipv4Address.Format(t.Local)} remote {Ipv4Address.Format(t.Remote)}"));
            line.Append(t.Ttl == 0 ? " ttl inherit" : $" ttl {t.Ttl}");
            line.Append(t.Tos.Inherit ? " tos inherit" : $" tos {t.Tos.Value.ToString("x2", Inv)}");
            if (t.InputKey == t.OutputKey && t.InputKey is uint key) line.Append(Inv, $" key {key}");
            else
            {
                if (t.InputKey is uint ikey) line.Append(Inv, $" ikey {ikey}");
                if (t.OutputKey is uint okey) line.Append(Inv, $" okey {okey}");
            }
            line.Append(t.InputChecksum && t.OutputChecksum ? " csum" : t.InputChecksum ? " icsum" : t.OutputChecksum ? " ocsum" : "");
            line.Append(t.InputSequence && t.OutputSequence ? " seq" : t.InputSequence ? " iseq" : t.OutputSequence ? " oseq" : "");
            if (!t.PathMtuDiscovery) line.Append(" nopmtudisc");
            s.Append(line).Append('\n');
            if (t.MtuConfigured) s.Append(Inv, $"ip link set dev {t.Name} mtu {t.Mtu}\n");
            foreach (var a in t.Addresses) s.Append(Inv, $"ip addr add {IpAddress(a)} dev {t.Name}\n");
            s.Append(Inv, $"ip link set dev {t.Name} up\n");
            foreach (var words in TunnelLines(t, includeEndpoints: false)) s.Append("set ").Append(string.Join(' ', words)).Append('\n');
        }
        foreach (var r in c.StaticRoutes.Concat(c.StandbyRoutes))
        {
            string p = ConfigIpv4.FormatPrefix(r.Prefix, r.PrefixLength);
            string metric = r.Distance == 1 ? "" : $" metric {r.Distance - 1}";
            if (r.Blackhole) s.Append(Inv, $"ip route add blackhole {p}{metric}\n");
            else if (r.Paths.Length == 1) s.Append(Inv, $"ip route add {p} {r.Paths[0]}{metric}\n");
            else s.Append(Inv, $"ip route add {p}{metric} {string.Join(' ', r.Paths.Select(x => $"nexthop {x}"))}\n");
        }
        foreach (var words in FastTunLines(c)) s.Append("# ").Append(string.Join(' ', words)).Append('\n');
        return s.ToString();
    }

    private static string IpAddress(InterfaceAddress a) => a.HasPeer
        ? $"{Ipv4Address.Format(a.Address)} peer {ConfigIpv4.FormatPrefix(a.Peer, a.PrefixLength)}"
        : a.ToString();

    private static string N(long n) => n.ToString(Inv);

    /// <summary>Single quotes as VyOS's show configuration commands; a quote inside becomes '\''.</summary>
    private static string Q(string v) => "'" + v.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static string Unquote(string word)
    {
        var words = new List<string>();
        return ConfigTokenizer.TryTokenize(word, words, out _) && words.Count == 1 ? words[0] : word;
    }
}
