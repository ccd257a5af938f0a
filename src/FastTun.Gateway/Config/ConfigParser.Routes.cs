using FastTun.Packets.Headers;

namespace FastTun.Gateway.Config;

/// <summary>Static routes in set lines: <c>route P next-hop A</c>, <c>route P blackhole</c>, <c>interface-route P
/// next-hop-interface IF</c>, each with an optional distance.</summary>
internal sealed partial class ConfigParser
{
    private void Route(List<string> w)
    {
        if (!RoutePrefix(w, out uint prefix, out int length)) return;
        if (w[5] == "blackhole" && (w.Count == 6 || (w.Count == 8 && w[6] == "distance")))
        {
            var hole = _draft.Route(prefix, length, _line);
            if (hole.BlackholeLine == 0) hole.BlackholeLine = _line;
            if (w.Count == 8 && TryInt(w[7], 1, 255, "distance", out int holeDistance))
                Set(ref hole.BlackholeDistance, holeDistance, w[7], $"route {w[4]} blackhole distance");
            return;
        }
        if (w[5] != "next-hop" || w.Count is not (7 or 9) || (w.Count == 9 && w[7] != "distance"))
        {
            Unknown();
            return;
        }
        if (!TryAddress(w[6], "next-hop", out uint nextHop)) return;
        var route = _draft.Route(prefix, length, _line);
        var hop = ConfigDraft.NextHop(route, nextHop, _line);
        if (w.Count == 9 && TryInt(w[8], 1, 255, "distance", out int distance))
            Set(ref hop.Distance, distance, w[8], $"route {w[4]} next-hop {w[6]} distance");
    }

    /// <summary>The prefix of a <c>route</c> or <c>interface-route</c> line. False when the line ends there (the
    /// bare route node, recorded) or the prefix is bad (an error, reported).</summary>
    private bool RoutePrefix(List<string> w, out uint prefix, out int length)
    {
        if (!ConfigIpv4.TryParsePrefix(w[4], out prefix, out length))
        {
            Error($"'{w[4]}' is not an IPv4 prefix A.B.C.D/0-32: {_text}");
            return false;
        }
        if (w.Count > 5) return true;
        _draft.Route(prefix, length, _line);
        return false;
    }

    /// <summary><c>set protocols static interface-route P/L next-hop-interface IF [distance N]</c> (VyOS 1.2).</summary>
    private void InterfaceRoute(List<string> w)
    {
        if (!RoutePrefix(w, out uint prefix, out int length)) return;
        if (At(w, 5) != "next-hop-interface" || w.Count is not (7 or 9) || (w.Count == 9 && w[7] != "distance"))
        {
            Unknown();
            return;
        }
        if (!IsInterfaceName(w[6]))
        {
            Error($"'{w[6]}' is not a valid interface name: {_text}");
            return;
        }
        var route = _draft.Route(prefix, length, _line);
        var hop = ConfigDraft.InterfaceHop(route, w[6], _line);
        if (w.Count == 9 && TryInt(w[8], 1, 255, "distance", out int distance))
            Set(ref hop.Distance, distance, w[8], $"interface-route {w[4]} next-hop-interface {w[6]} distance");
    }
}
