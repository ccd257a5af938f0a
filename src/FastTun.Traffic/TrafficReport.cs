using System.Globalization;
using System.Text;
using System.Text.Json;

namespace FastTun.Traffic;

/// <summary>Readable and JSON renderings of generator and sink results (snake_case keys).</summary>
public static class TrafficReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string GenJson(GenResult r, string iface, string driver, TrafficSpec spec, double rate)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false }))
        {
            w.WriteStartObject();
            w.WriteString("command", "gen");
            w.WriteString("iface", iface);
            w.WriteString("driver", driver);
            w.WriteNumber("size", spec.Size);
            w.WriteNumber("wire_size", spec.WireSize);
            w.WriteString("encap", spec.Encap.ToString().ToLowerInvariant());
            w.WriteNumber("flows", spec.Flows);
            w.WriteNumber("rate_requested", rate);
            w.WriteNumber("sent", r.Sent);
            w.WriteNumber("bytes", r.Bytes);
            w.WriteNumber("seconds", Math.Round(r.Seconds, 6));
            w.WriteNumber("pps", Math.Round(r.Pps, 1));
            w.WriteNumber("bps", Math.Round(r.Bps, 1));
            w.WriteNumber("deferred", r.Deferred);
            w.WriteNumber("syscalls", r.Syscalls);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    public static string GenText(GenResult r, string iface, string driver, TrafficSpec spec)
    {
        var sb = new StringBuilder();
        sb.Append(Inv, $"gen {iface} ({driver}): {spec.Describe()}, {r.Flows} flow(s)\n");
        sb.Append(Inv, $"  sent {r.Sent} packets in {r.Seconds:F3} s = {r.Pps / 1e6:F3} Mpps, {r.Bps / 1e9:F3} Gbit/s\n");
        sb.Append(Inv, $"  deferred (ring full, sent later) {r.Deferred}, syscalls {r.Syscalls}");
        sb.Append(r.Sent > 0 ? string.Create(Inv, $" ({(double)r.Syscalls / r.Sent * 64:F2} per 64 packets)\n") : "\n");
        return sb.ToString();
    }

    public static string SinkJson(SinkResult r, string iface, string driver)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false }))
        {
            w.WriteStartObject();
            w.WriteString("command", "sink");
            w.WriteString("iface", iface);
            w.WriteString("driver", driver);
            w.WriteNumber("frames", r.Frames);
            w.WriteNumber("packets", r.Packets);
            w.WriteNumber("bytes", r.Bytes);
            w.WriteNumber("active_seconds", Math.Round(r.ActiveSeconds, 6));
            w.WriteNumber("wall_seconds", Math.Round(r.WallSeconds, 6));
            w.WriteNumber("pps", Math.Round(r.Pps, 1));
            w.WriteNumber("bps", Math.Round(r.Bps, 1));
            w.WriteNumber("lost", r.Lost);
            w.WriteNumber("reordered", r.Reordered);
            w.WriteNumber("duplicates", r.Duplicates);
            w.WriteNumber("bad_checksum", r.BadChecksum);
            w.WriteNumber("arp_answered", r.ArpAnswered);
            w.WriteNumber("other", r.Other);
            w.WriteNumber("flows", r.Flows);
            w.WriteNumber("rx_dropped", r.RxDropped);
            w.WriteNumber("rx_batches", r.RxBatches);
            w.WriteNumber("syscalls", r.Syscalls);
            w.WriteNumber("timer_sleeps", r.TimerSleeps);
            w.WriteNumber("poll_sleeps", r.PollSleeps);
            w.WriteStartObject("latency_ns");
            w.WriteNumber("samples", r.LatencySamples);
            w.WriteNumber("min", r.LatencyMinNs);
            w.WriteNumber("mean", Math.Round(r.LatencyMeanNs, 1));
            w.WriteNumber("p50", r.LatencyP50Ns);
            w.WriteNumber("p99", r.LatencyP99Ns);
            w.WriteNumber("p99_9", r.LatencyP999Ns);
            w.WriteNumber("max", r.LatencyMaxNs);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    public static string SinkText(SinkResult r, string iface, string driver)
    {
        var sb = new StringBuilder();
        sb.Append(Inv, $"sink {iface} ({driver}): {r.Packets} packets ({r.Frames} frames) in {r.ActiveSeconds:F3} s active, {r.WallSeconds:F3} s wall\n");
        sb.Append(Inv, $"  rx {r.Pps / 1e6:F3} Mpps, {r.Bps / 1e9:F3} Gbit/s, {r.Flows} flow(s)\n");
        sb.Append(Inv, $"  lost {r.Lost} (sequence gaps), reordered {r.Reordered}, duplicates {r.Duplicates}, bad checksum {r.BadChecksum}\n");
        sb.Append(Inv, $"  other frames {r.Other}, ARP answered {r.ArpAnswered}, kernel rx drops {r.RxDropped}, batches {r.RxBatches}");
        sb.Append(r.RxBatches > 0 ? string.Create(Inv, $" ({(double)r.Frames / r.RxBatches:F1} frames per batch)\n") : "\n");
        sb.Append(Inv, $"  waits: {r.TimerSleeps} on the coalescing timer, {r.PollSleeps} in poll(2)\n");
        if (r.LatencySamples > 0)
            sb.Append(Inv, $"  latency us: min {r.LatencyMinNs / 1e3:F1}  p50 {r.LatencyP50Ns / 1e3:F1}  p99 {r.LatencyP99Ns / 1e3:F1}  p99.9 {r.LatencyP999Ns / 1e3:F1}  max {r.LatencyMaxNs / 1e3:F1}  mean {r.LatencyMeanNs / 1e3:F1}\n");
        return sb.ToString();
    }
}
