using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace FastTun.Gateway.Control;

/// <summary>
/// Prometheus text exposition (format 0.0.4) on a loopback TCP port: <c>GET /metrics</c>. A raw
/// <see cref="TcpListener"/> on its own thread, one short request at a time: a scrape every few seconds needs
/// no web server. Only loopback addresses are accepted, because the counters describe the network.
/// </summary>
public sealed class MetricsServer : IDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<JsonObject> _stats;
    private readonly ILogger _logger;
    private readonly Thread _thread;
    private volatile bool _disposed;

    public MetricsServer(IPEndPoint endpoint, Func<JsonObject> stats, ILogger logger)
    {
        if (!IPAddress.IsLoopback(endpoint.Address))
            throw new ArgumentException($"--metrics {endpoint}: only a loopback address (127.0.0.1 or ::1) is allowed");
        _stats = stats;
        _logger = logger;
        _listener = new TcpListener(endpoint);
        _listener.Start();
        Endpoint = (IPEndPoint)_listener.LocalEndpoint;
        _thread = new Thread(Loop) { IsBackground = true, Name = "fasttun-metrics" };
        _thread.Start();
    }

    public IPEndPoint Endpoint { get; }

    public static bool TryParseEndpoint(string text, out IPEndPoint endpoint) => IPEndPoint.TryParse(text, out endpoint!) && endpoint.Port != 0;

    private void Loop()
    {
        while (!_disposed)
        {
            try
            {
                using var client = _listener.AcceptTcpClient();
                client.ReceiveTimeout = 2000;
                client.SendTimeout = 2000;
                Serve(client.GetStream());
            }
            catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or InvalidOperationException)
            {
                if (_disposed) return;
                _logger.LogDebug("metrics request failed: {Error}", e.Message);
            }
        }
    }

    private void Serve(NetworkStream stream)
    {
        var request = new StringBuilder();
        var buffer = new byte[1024];
        while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal) && request.Length < 8192)
        {
            int n = stream.Read(buffer);
            if (n == 0) break;
            request.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
        string firstLine = request.ToString().Split("\r\n")[0];
        string[] parts = firstLine.Split(' ');
        string status, contentType = "text/plain; version=0.0.4; charset=utf-8", body;
        if (parts.Length < 2 || parts[0] != "GET") { status = "405 Method Not Allowed"; body = "GET /metrics\n"; }
        else if (parts[1] != "/metrics") { status = "404 Not Found"; body = "try /metrics\n"; }
        else { status = "200 OK"; body = Render(_stats()); }
        byte[] content = Encoding.UTF8.GetBytes(body);
        string head = $"HTTP/1.1 {status}\r\nContent-Type: {contentType}\r\nContent-Length: {content.Length}\r\nConnection: close\r\n\r\n";
        stream.Write(Encoding.ASCII.GetBytes(head));
        stream.Write(content);
    }

    /// <summary>The stats snapshot (see <see cref="GatewayViews.Stats"/>) as Prometheus text.</summary>
    public static string Render(JsonObject stats)
    {
        var sb = new StringBuilder();
        void Family(string name, string type, string help)
        {
            sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
            sb.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        }
        void Sample(string name, string labels, double value) =>
            sb.Append(name).Append(labels.Length > 0 ? "{" + labels + "}" : "").Append(' ')
              .Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        string Label(string key, string value) => $"{key}=\"{value.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"";

        var interfaces = stats["interfaces"]!.AsArray();
        foreach (var (metric, field, help) in new[]
        {
            ("fasttun_interface_rx_packets_total", "rxPackets", "Frames received on the interface."),
            ("fasttun_interface_rx_bytes_total", "rxBytes", "Bytes received on the interface."),
            ("fasttun_interface_tx_packets_total", "txPackets", "Frames transmitted on the interface."),
            ("fasttun_interface_tx_bytes_total", "txBytes", "Bytes transmitted on the interface."),
            ("fasttun_interface_rx_dropped_total", "rxDropped", "Frames the kernel dropped because the rx ring was full."),
            ("fasttun_interface_tx_dropped_total", "txDropped", "Frames that could not be transmitted."),
        })
        {
            Family(metric, "counter", help);
            foreach (var i in interfaces) Sample(metric, Label("interface", (string)i!["name"]!), (long)i[field]!);
        }
        var tunnels = stats["tunnels"]!.AsArray();
        foreach (var (metric, field, help) in new[]
        {
            ("fasttun_tunnel_encap_packets_total", "encapPackets", "Packets encapsulated into the tunnel."),
            ("fasttun_tunnel_encap_bytes_total", "encapBytes", "Inner bytes encapsulated into the tunnel."),
            ("fasttun_tunnel_decap_packets_total", "decapPackets", "Packets decapsulated from the tunnel."),
            ("fasttun_tunnel_decap_bytes_total", "decapBytes", "Inner bytes decapsulated from the tunnel."),
        })
        {
            Family(metric, "counter", help);
            foreach (var t in tunnels) Sample(metric, Label("tunnel", (string)t!["name"]!), (long)t[field]!);
        }
        foreach (var (metric, field, help) in new[]
        {
            ("fasttun_tunnel_seq_received_total", "received", "GRE packets received with a sequence number."),
            ("fasttun_tunnel_seq_lost_total", "lost", "Sequence numbers skipped by gaps and not filled in since."),
            ("fasttun_tunnel_seq_reordered_total", "reordered", "Late sequence numbers not seen before."),
            ("fasttun_tunnel_seq_duplicates_total", "duplicates", "Sequence numbers received twice."),
            ("fasttun_tunnel_seq_out_of_window_total", "outOfWindow", "Sequence numbers too old or too far ahead, not (yet) confirmed."),
            ("fasttun_tunnel_seq_resyncs_total", "resyncs", "Receive windows moved to a new confirmed stream (peer restart, jump)."),
        })
        {
            Family(metric, "counter", help);
            foreach (var t in tunnels)
                if (t!["sequence"]?[field] is { } value) Sample(metric, Label("tunnel", (string)t["name"]!), (long)value);
        }
        Family("fasttun_tunnel_seq_loss_ratio", "gauge", "Lost / (received + lost) sequence numbers since the tunnel was created.");
        foreach (var t in tunnels)
            if (t!["sequence"]?["lossRate"] is { } rate) Sample("fasttun_tunnel_seq_loss_ratio", Label("tunnel", (string)t["name"]!), (double)rate);
        KeepaliveViews.Prometheus(tunnels, Family, Sample, Label);
        Family("fasttun_drops_total", "counter", "Frames dropped by the data path, by reason.");
        foreach (var (reason, value) in stats["drops"]!.AsObject()) Sample("fasttun_drops_total", Label("reason", reason), (long)value!);
        var workers = stats["workers"]!.AsArray();
        Family("fasttun_worker_batches_total", "counter", "Non-empty batches processed by the worker.");
        foreach (var w in workers) Sample("fasttun_worker_batches_total", Label("worker", w!["index"]!.ToString()), (long)w["batches"]!);
        Family("fasttun_worker_packets_total", "counter", "Frames processed by the worker.");
        foreach (var w in workers) Sample("fasttun_worker_packets_total", Label("worker", w!["index"]!.ToString()), (long)w["packets"]!);
        Family("fasttun_worker_busy_seconds_total", "counter", "Time the worker spent processing batches; rate() is the busy ratio.");
        foreach (var w in workers) Sample("fasttun_worker_busy_seconds_total", Label("worker", w!["index"]!.ToString()), (double)w["busySeconds"]!);
        Family("fasttun_uptime_seconds", "gauge", "Seconds since the gateway started.");
        Sample("fasttun_uptime_seconds", "", (double)stats["uptimeSeconds"]!);
        return sb.ToString();
    }

    public void Dispose()
    {
        _disposed = true; // volatile: the loop reads it when accept returns
        _listener.Stop();
        _thread.Join(1000);
    }
}
