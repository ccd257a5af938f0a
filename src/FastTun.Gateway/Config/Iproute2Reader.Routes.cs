using FastTun.Packets.Headers;
using System.Globalization;

namespace FastTun.Gateway.Config;

/// <summary>iproute2 routes: <c>ip route add|replace|change|del</c>, ECMP <c>nexthop</c>s and blackholes.</summary>
internal sealed partial class Iproute2Reader
{
    private void Route(List<string> a)
    {
        if (IsShow(a)) { _parser.Info(_line, "a show command has no effect", _text); return; }
        string verb = a[0];
        bool add = Matches(verb, "add") || verb == "append", replace = Matches(verb, "replace"), change = Matches(verb, "change"),
            del = verb is "del" or "delete";
        if (!add && !replace && !change && !del) { Unsupported(); return; }
        string? prefixText = null;
        bool blackhole = false;
        int metric = 0;
        var paths = new List<(uint Via, string? Dev, int Line)>();
        uint via = 0;
        string? dev = null;
        bool inNexthop = false;
        for (int k = 1; k < a.Count; k++)
        {
            string w = a[k];
            bool hasValue = k + 1 < a.Count;
            switch (w)
            {
                case "via" when hasValue:
                    if (via != 0) { Error($"two 'via' in one path: {_text}"); return; }
                    string g = a[++k];
                    if (g == "inet" && k + 1 < a.Count) g = a[++k];
                    if (!Ipv4Address.TryParse(g, out via) || via == 0) { Error($"via '{g}' is not an IPv4 address: {_text}"); return; }
                    break;
                case "dev" or "oif" when hasValue:
                    dev = a[++k];
                    if (!ConfigParser.IsInterfaceName(dev)) { Error($"dev '{dev}' is not an interface name: {_text}"); return; }
                    break;
                case "metric" or "preference" or "priority" when hasValue:
                    string m = a[++k];
                    if (!int.TryParse(m, NumberStyles.None, CultureInfo.InvariantCulture, out metric) || metric > 254)
                    {
                        Error($"metric must be 0-254, not '{m}': FastTun keeps it as the route's distance (metric + 1, 1-255, lower wins): {_text}");
                        return;
                    }
                    break;
                case "proto" or "protocol" or "scope" when hasValue: k++; break; // no effect on forwarding
                case "nexthop":
                    if (inNexthop) { if (!EndPath()) return; }
                    else if (via != 0 || dev is not null) { Error($"'nexthop' after a single path: {_text}"); return; }
                    inNexthop = true;
                    break;
                case "weight" when inNexthop && hasValue:
                    if (a[++k] != "1") { Error($"nexthop weight {a[k]}: FastTun spreads flows equally (weight 1 only): {_text}"); return; }
                    break;
                case "blackhole" when prefixText is null: blackhole = true; break;
                case "unreachable" or "prohibit" or "throw" or "nat" or "local" or "broadcast" or "multicast" or "anycast" when prefixText is null:
                    Error($"route type '{w}' is not supported (FastTun takes unicast and blackhole routes): {_text}");
                    return;
                case "to" when hasValue && prefixText is null: prefixText = a[++k]; break;
                default:
                    if (prefixText is null && (w == "default" || (w.Length > 0 && char.IsAsciiDigit(w[0])))) { prefixText = w; break; }
                    Error($"'{w}' is not supported in ip route (FastTun takes PREFIX, via, dev, metric, nexthop, blackhole): {_text}");
                    return;
            }
        }
        if (inNexthop && !EndPath()) return;
        if (!inNexthop && (via != 0 || dev is not null)) paths.Add((via, dev, _line));
        if (prefixText is null) { Error($"ip route {verb} needs a prefix: {_text}"); return; }
        string written = prefixText;
        if (prefixText == "default") prefixText = "0.0.0.0/0";
        if (!TryPrefix(prefixText, out uint prefix, out int length)) { Error($"'{written}' is not an IPv4 prefix A.B.C.D[/0-32] or 'default': {_text}"); return; }
        uint masked = prefix & ConfigIpv4.Mask(length);

        int index = _routes.FindIndex(r => r.Prefix == masked && r.Length == length && r.Metric == metric);
        if (del)
        {
            if (index < 0) index = _routes.FindIndex(r => r.Prefix == masked && r.Length == length);
            if (index < 0) { Error($"no route {ConfigIpv4.FormatPrefix(masked, length)} to delete: {_text}"); return; }
            _routes.RemoveAt(index);
            return;
        }
        if (!blackhole && paths.Count == 0) { Error($"ip route {verb} {written} needs 'via GW', 'dev IF', 'nexthop ...' or 'blackhole': {_text}"); return; }
        if (blackhole && paths.Count > 0) { Error($"a blackhole route has no via, dev or nexthop: {_text}"); return; }
        if (add && index >= 0) { Error($"route {ConfigIpv4.FormatPrefix(masked, length)} metric {metric} already exists (line {_routes[index].Line}) (the kernel: \"File exists\"); use 'ip route replace': {_text}"); return; }
        if (change && index < 0) { Error($"no route {ConfigIpv4.FormatPrefix(masked, length)} metric {metric} to change: {_text}"); return; }
        var route = new RouteState(masked, length, metric, _line) { Blackhole = blackhole, MaskedFrom = masked != prefix ? written : null };
        route.Paths.AddRange(paths);
        if (index >= 0) _routes[index] = route; else _routes.Add(route);

        bool EndPath()
        {
            if (via == 0 && dev is null) { Error($"an empty 'nexthop' (it needs via GW or dev IF): {_text}"); return false; }
            paths.Add((via, dev, _line));
            (via, dev) = (0, null);
            return true;
        }
    }

    /// <summary>Writes the routes' final state into the draft: metric M becomes distance M + 1.</summary>
    private void FinishRoutes(ConfigDraft draft)
    {
        foreach (var r in _routes)
        {
            var route = draft.Route(r.Prefix, r.Length, r.Line);
            route.MaskedFrom ??= r.MaskedFrom;
            int distance = r.Metric + 1;
            string prefix = ConfigIpv4.FormatPrefix(r.Prefix, r.Length);
            if (r.Blackhole)
            {
                if (route.BlackholeLine != 0) { _parser.Error(r.Line, $"route {prefix}: a second blackhole (line {route.BlackholeLine})"); continue; }
                route.BlackholeLine = r.Line;
                route.BlackholeDistance = Leaf(distance, r.Metric.ToString(CultureInfo.InvariantCulture), r.Line);
                continue;
            }
            foreach (var (via, dev, line) in r.Paths)
            {
                if (via == 0)
                {
                    var hop = ConfigDraft.InterfaceHop(route, dev!, line);
                    if (hop.Distance.IsSet && hop.Distance.Value != distance) { _parser.Error(line, $"route {prefix} dev {dev} is already there with another metric (line {hop.Distance.Line})"); continue; }
                    hop.Distance = Leaf(distance, r.Metric.ToString(CultureInfo.InvariantCulture), line);
                }
                else
                {
                    var hop = ConfigDraft.NextHop(route, via, line);
                    if (hop.Distance.IsSet && hop.Distance.Value != distance) { _parser.Error(line, $"route {prefix} via {Ipv4Address.Format(via)} is already there with another metric (line {hop.Distance.Line})"); continue; }
                    hop.Distance = Leaf(distance, r.Metric.ToString(CultureInfo.InvariantCulture), line);
                    hop.OwnTunnelAddressMeansTunnel = true;
                    if (dev is not null) hop.Dev = Leaf(dev, dev, line);
                }
            }
        }
    }
}
