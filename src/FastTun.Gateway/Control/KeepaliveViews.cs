using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using FastTun.Gateway.Dataplane;

namespace FastTun.Gateway.Control;

/// <summary>GRE keepalive in <c>show tunnels</c>, <c>show stats</c> (JSON) and Prometheus.</summary>
public static class KeepaliveViews
{
    /// <summary>
    /// A tunnel's keepalive: <c>state</c> "up"/"down" with the interval, retries, misses in a row, transitions, time
    /// of the last change, probes sent and answered and round trips (seconds), or <c>state</c> "off" without
    /// keepalive. <c>reflected</c> counts the peer's probes sent back, with or without keepalive here.
    /// </summary>
    public static JsonObject Of(GatewayRuntime runtime, Packets.Tunnels.Tunnel tunnel)
    {
        var k = tunnel.Keepalive;
        var status = runtime.Keepalive?.StatusOf(tunnel.Name);
        var o = new JsonObject
        {
            ["state"] = status is null ? "off" : status.State == KeepaliveState.Up ? "up" : "down",
            ["reflected"] = k.Reflected,
        };
        if (status is null) return o;
        o["interval"] = status.Settings.IntervalSeconds;
        o["retries"] = status.Settings.Retries;
        o["missed"] = status.Missed;
        o["transitions"] = status.Transitions;
        o["lastChange"] = status.LastChange?.ToString("o", CultureInfo.InvariantCulture);
        o["sent"] = k.Sent;
        o["replies"] = k.Replies;
        o["stray"] = k.Stray;
        o["lastRttSeconds"] = k.Replies == 0 ? null : Math.Round(k.LastRttSeconds, 9);
        o["avgRttSeconds"] = k.Replies == 0 ? null : Math.Round(k.AverageRttSeconds, 9);
        return o;
    }

    /// <summary>The <c>fasttun_tunnel_keepalive_*</c> families from the stats' tunnels.</summary>
    public static void Prometheus(JsonArray tunnels, Action<string, string, string> family, Action<string, string, double> sample,
        Func<string, string, string> label)
    {
        var rows = tunnels.Where(t => t?["keepalive"]?["state"]?.ToString() is "up" or "down").ToList();
        family("fasttun_tunnel_keepalive_state", "gauge", "1 while the tunnel's keepalive is up, 0 while it is down (tunnels with keepalive only).");
        foreach (var t in rows) sample("fasttun_tunnel_keepalive_state", label("tunnel", (string)t!["name"]!), t["keepalive"]!["state"]!.ToString() == "up" ? 1 : 0);
        foreach (var (metric, field, help) in new[]
        {
            ("fasttun_tunnel_keepalive_transitions_total", "transitions", "Keepalive up/down changes."),
            ("fasttun_tunnel_keepalive_sent_total", "sent", "Keepalive probes sent."),
            ("fasttun_tunnel_keepalive_replies_total", "replies", "Keepalive probes answered."),
        })
        {
            family(metric, "counter", help);
            foreach (var t in rows) sample(metric, label("tunnel", (string)t!["name"]!), Number(t["keepalive"]![field]));
        }
        family("fasttun_tunnel_keepalive_rtt_seconds", "gauge", "Round trip of the latest keepalive reply.");
        foreach (var t in rows)
            if (t!["keepalive"]!["lastRttSeconds"] is { } rtt) sample("fasttun_tunnel_keepalive_rtt_seconds", label("tunnel", (string)t["name"]!), Number(rtt));
        family("fasttun_tunnel_keepalive_rtt_avg_seconds", "gauge", "Mean round trip of the keepalive replies.");
        foreach (var t in rows)
            if (t!["keepalive"]!["avgRttSeconds"] is { } rtt) sample("fasttun_tunnel_keepalive_rtt_avg_seconds", label("tunnel", (string)t["name"]!), Number(rtt));
        family("fasttun_tunnel_keepalive_reflected_total", "counter", "The peer's keepalive probes sent back to it.");
        foreach (var t in tunnels)
            if (t?["keepalive"]?["reflected"] is { } reflected) sample("fasttun_tunnel_keepalive_reflected_total", label("tunnel", (string)t["name"]!), Number(reflected));
    }

    /// <summary>The text column of <c>show tunnels</c>: "up 10/3", "down 10/3 (2 trans)" or "-"; and the RTT column.</summary>
    public static (string State, string Rtt) Columns(JsonNode? keepalive)
    {
        if (keepalive?["state"]?.ToString() is not ("up" or "down") || keepalive is null) return ("-", "-");
        var s = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"{keepalive["state"]} {keepalive["interval"]}/{keepalive["retries"]}"));
        if (Number(keepalive["transitions"]) is > 0 and var n && DateTimeOffset.TryParse((string?)keepalive["lastChange"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var changed))
            s.Append(CultureInfo.InvariantCulture, $" {n}x, last {changed.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}");
        string rtt = keepalive["lastRttSeconds"] is { } last && keepalive["avgRttSeconds"] is { } avg
            ? string.Create(CultureInfo.InvariantCulture, $"{Number(last) * 1000:0.###}/{Number(avg) * 1000:0.###}ms") : "-";
        return (s.ToString(), rtt);
    }

    /// <summary>A JSON number as built in memory (int, long or double) or parsed from the control socket; 0 if absent.</summary>
    private static double Number(JsonNode? node) =>
        node is null ? 0 : double.Parse(node.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);
}
