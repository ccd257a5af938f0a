using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using FastTun.Gateway.Dataplane;
using FastTun.Packets.Datapath;

namespace FastTun.Gateway.Control;

/// <summary>
/// Runs <c>fasttun capture</c>: one capture at a time. It gives every worker a <see cref="CaptureTap"/> with its
/// own pre-allocated ring, drains the rings on the control connection's thread and streams pcapng to the
/// client until the count or duration is reached, the client hangs up, or the gateway stops. Removing the
/// taps ends the workers' cost; the last blocks are Interface Statistics Blocks carrying the copies lost to
/// full rings (isb_osdrop), and the summary stays for <c>fasttun show stats</c>.
/// </summary>
public sealed class CaptureHub
{
    public const int RingSlots = 1024;
    public const int SnapLength = 2048;
    /// <summary>How long the drain loop sleeps when every ring is empty: bounds the added latency of a capture
    /// and the control thread's wakeups (100 per second at most).</summary>
    private const int IdleSleepMs = 10;

    private readonly GatewayRuntime _runtime;
    private int _active; // 1 while a capture runs; Interlocked, orders nothing else
    private long _sessions, _lastCaptured, _lastLost;

    public CaptureHub(GatewayRuntime runtime) => _runtime = runtime;

    public bool IsActive => Volatile.Read(ref _active) != 0; // a status read; pairs with nothing

    public JsonObject Describe() => new()
    {
        ["active"] = IsActive,
        ["sessions"] = Interlocked.Read(ref _sessions),
        ["lastCaptured"] = Interlocked.Read(ref _lastCaptured),
        ["lastLost"] = Interlocked.Read(ref _lastLost),
    };

    /// <summary>Validates a capture request; the reply's stream action runs the capture.</summary>
    public ControlReply Start(JsonObject request)
    {
        string pointText = request["point"]?.GetValue<string>() ?? throw new ArgumentException("capture needs a point: rx, tx, drop, decap or encap");
        if (!TryParsePoint(pointText, out var point))
            throw new ArgumentException($"unknown capture point '{pointText}': rx, tx, drop, decap or encap");
        string? iface = request["iface"]?.GetValue<string>();
        long count = request["count"]?.GetValue<long>() ?? 0;
        double duration = request["duration"]?.GetValue<double>() ?? 0;
        if (count < 0) throw new ArgumentException("count must be ≥ 0 (0 = until stopped)");
        if (duration < 0) throw new ArgumentException("duration must be ≥ 0 seconds (0 = until stopped)");

        var state = _runtime.State;
        int filter = CaptureTap.AnyInterface;
        bool tunnelPoint = point is CapturePoint.Decap or CapturePoint.Encap;
        if (iface is not null)
        {
            int port = Array.FindIndex(state.Ports, p => p.Name == iface);
            int tunnel = Array.FindIndex(state.Tunnels, t => t.Tunnel.Name == iface);
            if (port < 0 && tunnel < 0) throw new ArgumentException($"no interface or tunnel {iface}");
            if (tunnelPoint && tunnel < 0) throw new ArgumentException($"the {pointText} point sees tunnel packets: give a tunnel name, not {iface}");
            if (!tunnelPoint && port < 0) throw new ArgumentException($"the {pointText} point sees ethernet frames: give an interface name, not tunnel {iface}");
            filter = tunnelPoint ? state.Ports.Length + tunnel : port;
        }
        // Reserved here, so a second request gets a clear error; released when the stream ends or never starts.
        if (Interlocked.CompareExchange(ref _active, 1, 0) != 0) throw new InvalidOperationException("a capture is already running; one at a time");
        var info = new JsonObject { ["point"] = pointText, ["iface"] = iface, ["count"] = count, ["duration"] = duration, ["snapLength"] = SnapLength };
        return new ControlReply(ControlProtocol.Ok(info), (stream, stop) => Run(stream, point, filter, count, duration, stop),
            () => Interlocked.Exchange(ref _active, 0));
    }

    public static bool TryParsePoint(string text, out CapturePoint point)
    {
        switch (text)
        {
            case "rx": point = CapturePoint.Rx; return true;
            case "tx": point = CapturePoint.Tx; return true;
            case "drop": point = CapturePoint.Drop; return true;
            case "decap": point = CapturePoint.Decap; return true;
            case "encap": point = CapturePoint.Encap; return true;
            default: point = default; return false;
        }
    }

    private void Run(Stream stream, CapturePoint point, int filter, long count, double duration, CancellationToken stop)
    {
        Interlocked.Increment(ref _sessions);
        var state = _runtime.State;
        var workers = _runtime.Workers;
        var rings = new CaptureRing[workers.Count];
        long captured = 0;
        long startNs = UnixNs();
        var writer = new PcapNgWriter(new BufferedStream(stream, 64 * 1024));
        try
        {
            writer.WriteSectionHeader($"fasttun {Cli.CommandLine.Version} capture --point {point.ToString().ToLowerInvariant()}");
            foreach (var p in state.Ports) writer.WriteInterface(PcapNgWriter.LinkTypeEthernet, SnapLength, p.Name);
            foreach (var t in state.Tunnels) writer.WriteInterface(PcapNgWriter.LinkTypeRaw, SnapLength, t.Tunnel.Name);
            writer.Flush();
            for (int w = 0; w < workers.Count; w++)
            {
                rings[w] = new CaptureRing(RingSlots, SnapLength);
                workers[w].Pipeline.Capture = new CaptureTap(point, filter, state.Ports.Length, rings[w]);
            }
            var socket = (stream as NetworkStream)?.Socket;
            var clock = Stopwatch.StartNew();
            long lastPoll = 0;
            while (!stop.IsCancellationRequested && (count == 0 || captured < count) && (duration == 0 || clock.Elapsed.TotalSeconds < duration))
            {
                bool any = false;
                foreach (var ring in rings)
                {
                    while ((count == 0 || captured < count) && ring.TryPeek(out var f))
                    {
                        string? comment = point == CapturePoint.Drop ? $"drop: {DropReasons.Name(f.Reason)}" : null;
                        writer.WritePacket(f.Interface, f.TimestampTicks * 100, f.Data.Span, f.OriginalLength, comment);
                        ring.Release();
                        captured++;
                        any = true;
                    }
                }
                if (any) writer.Flush();
                if (clock.ElapsedMilliseconds - lastPoll >= 100 || !any)
                {
                    lastPoll = clock.ElapsedMilliseconds;
                    // Readable with nothing to read = the client closed its end (Ctrl-C): stop.
                    if (socket is not null && socket.Poll(0, SelectMode.SelectRead) && socket.Available == 0) break;
                }
                if (!any) Thread.Sleep(IdleSleepMs);
            }
        }
        finally
        {
            foreach (var w in workers) w.Pipeline.Capture = null;
            long lost = rings.Where(r => r is not null).Sum(r => r.Lost);
            Interlocked.Exchange(ref _lastCaptured, captured);
            Interlocked.Exchange(ref _lastLost, lost);
            try
            {
                uint first = filter == CaptureTap.AnyInterface ? 0u : (uint)filter;
                writer.WriteStatistics(first, startNs, UnixNs(), lost,
                    $"fasttun: {captured} frame(s) captured, {lost} lost because a capture ring was full");
                writer.Flush();
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
            {
                // The client is gone; the summary stays in show stats.
            }
            Interlocked.Exchange(ref _active, 0); // the next capture may start
        }
    }

    private static long UnixNs() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;
}
