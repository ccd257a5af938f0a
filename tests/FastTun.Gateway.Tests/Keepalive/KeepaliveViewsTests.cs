using System.Globalization;
using System.Text.Json.Nodes;
using FastTun.Gateway.Control;

namespace FastTun.Gateway.Tests.Keepalive;

public class KeepaliveViewsTests
{
    private static JsonObject Down() => new()
    {
        ["state"] = "down", ["reflected"] = 4, ["interval"] = 10, ["retries"] = 3, ["missed"] = 3, ["transitions"] = 3,
        ["lastChange"] = "2026-12-05T16:59:14.5277230+00:00", ["sent"] = 20, ["replies"] = 12, ["stray"] = 0,
        ["lastRttSeconds"] = 0.0015, ["avgRttSeconds"] = 0.002,
    };

    [Fact]
    public void Columns_DownWithHistory_StateTransitionsAndRttInMs()
    {
        Assert.Equal(("down 10/3 3x, last 2026-12-05T16:59:14Z", "1.5/2ms"), KeepaliveViews.Columns(Down()));
        Assert.Equal(("-", "-"), KeepaliveViews.Columns(new JsonObject { ["state"] = "off", ["reflected"] = 0 }));
        Assert.Equal(("-", "-"), KeepaliveViews.Columns(null));
    }

    [Fact]
    public void Prometheus_KeepaliveTunnelsOnly_StateCountersRtt()
    {
        var tunnels = new JsonArray
        {
            new JsonObject { ["name"] = "tun0", ["keepalive"] = Down() },
            new JsonObject { ["name"] = "tun1", ["keepalive"] = new JsonObject { ["state"] = "off", ["reflected"] = 7 } },
        };
        var lines = new List<string>();
        KeepaliveViews.Prometheus(tunnels, (n, t, h) => lines.Add($"# TYPE {n} {t}"),
            (n, l, v) => lines.Add($"{n}{{{l}}} {v.ToString(CultureInfo.InvariantCulture)}"), (k, v) => $"{k}=\"{v}\"");
        Assert.Contains("fasttun_tunnel_keepalive_state{tunnel=\"tun0\"} 0", lines);
        Assert.Contains("fasttun_tunnel_keepalive_transitions_total{tunnel=\"tun0\"} 3", lines);
        Assert.Contains("fasttun_tunnel_keepalive_sent_total{tunnel=\"tun0\"} 20", lines);
        Assert.Contains("fasttun_tunnel_keepalive_replies_total{tunnel=\"tun0\"} 12", lines);
        Assert.Contains("fasttun_tunnel_keepalive_rtt_seconds{tunnel=\"tun0\"} 0.0015", lines);
        Assert.Contains("fasttun_tunnel_keepalive_rtt_avg_seconds{tunnel=\"tun0\"} 0.002", lines);
        Assert.Contains("fasttun_tunnel_keepalive_reflected_total{tunnel=\"tun1\"} 7", lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("fasttun_tunnel_keepalive_state{tunnel=\"tun1\"}", StringComparison.Ordinal));
    }
}
