using Ipv4Address = FastTun.Packets.Headers.Ipv4Address;
using System.Diagnostics;
using System.Text.Json.Nodes;
using FastTun.Gateway.Config;
using FastTun.Gateway.Dataplane;
using FastTun.Packets.Datapath;

namespace FastTun.Gateway.Control;

/// <summary>
/// The JSON the control socket answers <c>show ...</c> with. Field names are camelCase; counters are totals
/// since start (rates are the client's job: it subtracts two snapshots). Counters are read racily from the
/// workers' plain fields, so a snapshot may be one batch old per worker, never torn.
/// </summary>
public static class GatewayViews
{
    public static JsonObject Interfaces(GatewayRuntime runtime)
    {
        var state = runtime.State;
        var list = new JsonArray();
        var config = runtime.Config;
        for (int i = 0; i < state.Ports.Length; i++)
        {
            var p = state.Ports[i];
            var c = SumPort(runtime, i);
            var iface = config.Interfaces[i];
            list.Add(new JsonObject
            {
                ["name"] = p.Name,
                ["id"] = p.Id,
                ["driver"] = iface.Driver == PortDriver.AfXdp ? "af_xdp" : "af_packet",
                ["queues"] = iface.Queues,
                ["mac"] = NeighborEntry.FormatMac(p.Mac),
                ["mtu"] = p.Mtu,
                ["addresses"] = new JsonArray(iface.Addresses.Select(a => (JsonNode)JsonValue.Create(a.ToString())).ToArray()),
                ["rxPackets"] = c.RxPackets,
                ["rxBytes"] = c.RxBytes,
                ["txPackets"] = c.TxPackets,
                ["txBytes"] = c.TxBytes,
                ["rxDropped"] = c.RxDropped,
                ["txDropped"] = c.TxDropped,
            });
        }
        return new JsonObject { ["interfaces"] = list };
    }

    public static JsonObject Tunnels(GatewayRuntime runtime) => Tunnels(runtime, TunnelQuery.All);

    /// <summary>The tunnels <paramref name="query"/> selects, one page of them; <c>total</c> counts every tunnel,
    /// <c>matched</c> those the filter kept (before paging).</summary>
    public static JsonObject Tunnels(GatewayRuntime runtime, TunnelQuery query)
    {
        var state = runtime.State;
        var list = new JsonArray();
        long now = Environment.TickCount64;
        var configuredByName = new Dictionary<string, Config.Tunnel>(runtime.Config.Tunnels.Length, StringComparer.Ordinal);
        foreach (var c in runtime.Config.Tunnels) configuredByName[c.Name] = c; // FindTunnel per row is O(n²) on a hub
        int matched = 0;
        foreach (var tp in state.Tunnels)
        {
            var t = tp.Tunnel;
            var s = t.Settings;
            if (!query.Matches(s)) continue;
            int position = matched++;
            if (position < query.Offset || (query.Limit is { } limit && position >= query.Offset + limit)) continue;
            var configured = configuredByName.GetValueOrDefault(t.Name);
            list.Add(new JsonObject
            {
                ["name"] = t.Name,
                ["mode"] = s.Mode.ToString().ToLowerInvariant(),
                ["local"] = Ipv4Address.Format(s.Local),
                ["remote"] = Ipv4Address.Format(s.Remote),
                ["addresses"] = new JsonArray((configured?.Addresses ?? []).Select(a => (JsonNode)JsonValue.Create(a.ToString())).ToArray()),
                ["underlay"] = configured?.Underlay,
                ["mtu"] = tp.Mtu(now),
                ["configuredMtu"] = tp.ConfiguredMtu,
                ["ttl"] = s.Ttl == 0 ? "inherit" : s.Ttl.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["tos"] = s.Tos.ToString(),
                ["pmtuDiscovery"] = s.PmtuDiscovery,
                ["inputKey"] = s.InputKey,
                ["outputKey"] = s.OutputKey,
                ["inputChecksum"] = s.InputChecksum,
                ["outputChecksum"] = s.OutputChecksum,
                ["inputSequence"] = s.InputSequence,
                ["outputSequence"] = s.OutputSequence,
                ["encapPackets"] = t.EncapPackets,
                ["encapBytes"] = t.EncapBytes,
                ["decapPackets"] = t.DecapPackets,
                ["decapBytes"] = t.DecapBytes,
                ["sequence"] = Sequence(t.SequenceMeter),
                ["keepalive"] = KeepaliveViews.Of(runtime, t),
            });
        }
        return new JsonObject
        {
            ["tunnels"] = list,
            ["total"] = state.Tunnels.Length,
            ["matched"] = matched,
            ["offset"] = query.Offset,
            ["limit"] = query.Limit,
        };
    }

    /// <summary>The GRE sequence meter of a tunnel (all zero on a tunnel that receives no sequence numbers).
    /// Counters written by one worker, read racily: a reading may be a batch old.</summary>
    public static JsonObject Sequence(Packets.Tunnels.GreSequenceMeter m) => new()
    {
        ["received"] = Volatile.Read(ref m.Received), // racy reads of single-writer counters (see GreSequenceMeter)
        ["lost"] = Volatile.Read(ref m.Lost),
        ["reordered"] = Volatile.Read(ref m.Reordered),
        ["duplicates"] = Volatile.Read(ref m.Duplicates),
        ["outOfWindow"] = Volatile.Read(ref m.OutOfWindow),
        ["resyncs"] = Volatile.Read(ref m.Resyncs),
        ["lossRate"] = Math.Round(m.LossRate, 6),
    };

    public static JsonObject Routes(GatewayRuntime runtime)
    {
        var state = runtime.State;
        var list = new JsonArray();
        foreach (var r in runtime.Routes)
        {
            var h = r.Hop;
            string? dev = h.Kind switch
            {
                NextHopKind.Connected or NextHopKind.Gateway => state.Ports[h.Port].Name,
                NextHopKind.Tunnel => (uint)h.Tunnel < (uint)state.Tunnels.Length ? state.Tunnels[h.Tunnel].Tunnel.Name : null,
                NextHopKind.Multipath => r.Text, // ECMP: every member, as ip route prints them
                _ => null,
            };
            list.Add(new JsonObject
            {
                ["prefix"] = ConfigIpv4.FormatPrefix(r.Prefix, r.Length),
                ["kind"] = h.Kind.ToString().ToLowerInvariant(),
                ["via"] = r.Via != 0 ? Ipv4Address.Format(r.Via) : h.Kind == NextHopKind.Gateway ? Ipv4Address.Format(h.Gateway) : null,
                ["dev"] = dev,
                ["origin"] = r.Origin.ToString().ToLowerInvariant(),
            });
        }
        return new JsonObject
        {
            ["routes"] = list,
            ["runtimeChanges"] = new JsonArray(runtime.RuntimeChanges.Select(c => (JsonNode)JsonValue.Create(c)).ToArray()),
        };
    }

    public static JsonObject Neighbors(GatewayRuntime runtime)
    {
        var state = runtime.State;
        long now = Environment.TickCount64;
        var list = new JsonArray();
        foreach (var e in runtime.Neighbors.Snapshot())
        {
            list.Add(new JsonObject
            {
                ["ip"] = Ipv4Address.Format(e.Ip),
                ["dev"] = e.Port < state.Ports.Length ? state.Ports[e.Port].Name : e.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["mac"] = e.State is NeighborState.Incomplete or NeighborState.Failed ? null : NeighborEntry.FormatMac(e.Mac),
                ["state"] = e.State.ToString().ToLowerInvariant(),
                ["ageSeconds"] = Math.Round((now - e.UpdatedMs) / 1000.0, 1),
            });
        }
        return new JsonObject { ["neighbors"] = list };
    }

    /// <summary>Every counter: per interface, per tunnel, per drop reason (kebab-case, all reasons, zeros
    /// included so a scraper sees a stable set), per worker.</summary>
    public static JsonObject Stats(GatewayRuntime runtime, CaptureHub? capture = null)
    {
        var interfaces = (JsonArray)Interfaces(runtime)["interfaces"]!.DeepClone();
        foreach (var i in interfaces)
        {
            var o = (JsonObject)i!;
            foreach (var k in new[] { "id", "driver", "queues", "mac", "mtu", "addresses" }) o.Remove(k);
        }
        var tunnels = new JsonArray();
        foreach (var tp in runtime.State.Tunnels)
        {
            var t = tp.Tunnel;
            tunnels.Add(new JsonObject
            {
                ["name"] = t.Name,
                ["encapPackets"] = t.EncapPackets,
                ["encapBytes"] = t.EncapBytes,
                ["decapPackets"] = t.DecapPackets,
                ["decapBytes"] = t.DecapBytes,
                ["sequence"] = Sequence(t.SequenceMeter),
                ["keepalive"] = KeepaliveViews.Of(runtime, t),
            });
        }
        var drops = new long[(int)DropReason.Count];
        var workers = new JsonArray();
        long nowTicks = Stopwatch.GetTimestamp();
        foreach (var w in runtime.Workers)
        {
            var c = w.Pipeline.Counters;
            for (int r = 1; r < drops.Length; r++) drops[r] += c.Drops[r];
            double elapsed = Math.Max(1, nowTicks - w.StartedTicks);
            long busy = c.BusyTicks;
            workers.Add(new JsonObject
            {
                ["index"] = w.Index,
                ["batches"] = c.Batches,
                ["packets"] = c.Packets,
                ["forwarded"] = c.Forwarded,
                ["consumed"] = c.Consumed,
                ["checksumsCompleted"] = c.ChecksumsCompleted,
                ["rxDropped"] = c.RxDropped,
                ["localDelivered"] = c.LocalDelivered,
                ["icmpSent"] = c.IcmpSent,
                ["arpSent"] = c.ArpSent,
                ["handedOff"] = c.HandedOff,
                ["drops"] = c.TotalDrops(),
                ["busySeconds"] = busy / (double)Stopwatch.Frequency,
                ["elapsedSeconds"] = elapsed / Stopwatch.Frequency,
                ["busyRatio"] = Math.Round(busy / elapsed, 4),
                ["sleeps"] = w.Sleeps,            // e2e: poll(2) sleeps and empty passes (wake-up policy)
                ["emptyPasses"] = w.EmptyPasses,
            });
        }
        var dropObject = new JsonObject();
        for (int r = 1; r < drops.Length; r++) dropObject[DropReasons.Name((DropReason)r)] = drops[r];
        var result = new JsonObject
        {
            ["timestampMs"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            ["uptimeSeconds"] = Math.Round((DateTimeOffset.UtcNow - runtime.StartedAt).TotalSeconds, 1),
            ["interfaces"] = interfaces,
            ["tunnels"] = tunnels,
            ["drops"] = dropObject,
            ["workers"] = workers,
        };
        if (capture is not null) result["capture"] = capture.Describe();
        return result;
    }

    public static Linux.Ports.PortCounters SumPort(GatewayRuntime runtime, int port)
    {
        var sum = new Linux.Ports.PortCounters();
        foreach (var w in runtime.Workers)
        {
            if (port >= w.Ports.Count) continue;
            var c = w.Ports[port].Counters;
            sum.RxPackets += c.RxPackets;
            sum.RxBytes += c.RxBytes;
            sum.TxPackets += c.TxPackets;
            sum.TxBytes += c.TxBytes;
            sum.RxDropped += c.RxDropped;
            sum.TxDropped += c.TxDropped;
            sum.Syscalls += c.Syscalls;
            sum.RxBatches += c.RxBatches;
        }
        return sum;
    }
}
