using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Datapath;

/// <summary>
/// GRE keepalive (Cisco style) in the data path; see <see cref="TunnelKeepalive"/> for the format. Three jobs, all
/// off the per-packet fast path:
/// <list type="bullet">
/// <item>send: the control plane posts (tunnel, probe id) to <see cref="Keepalives"/>; the timer pass builds the
/// probe in a pool frame and queues it for the tunnel's normal encapsulation (key, checksum, sequence, IP ID,
/// adjacency as for any packet into the tunnel).</item>
/// <item>reflect: a peer's probe, decapsulated, is an inner GRE packet from this tunnel's local address to its
/// remote. Linux routes it back to the remote when it forwards and accepts its own addresses as sources
/// (<c>net.ipv4.conf.*.accept_local=1</c>; with the default 0, fib_validate_source drops it as a martian). FastTun's
/// martian check would drop it too, so exactly this packet (inner GRE, source = the tunnel's local, destination =
/// its remote, out of that tunnel) is recognised here and routed without the source check, counted per tunnel;
/// every other inner packet keeps the martian rules. Whoever can forge such a packet could as well send the inner
/// packet to the remote directly, so this opens no new path.</item>
/// <item>receive: our probe returning is a plain GRE packet of protocol type 0 from the remote; the decapsulator
/// refuses the type (<see cref="DropReason.GreUnsupportedProtocol"/>), and it is consumed here: its round trip
/// recorded, neither forwarded nor counted as a drop.</item>
/// </list>
/// The decap path calls <see cref="KeepaliveHandled"/> once per tunnel packet: two compares unless the packet is
/// GRE in GRE or a refused GRE type.
/// </summary>
public sealed partial class Pipeline
{
    /// <summary>Probes the control plane asks this worker to send, or null (no keepalive anywhere).</summary>
    public KeepaliveOutbox? Keepalives { get; set; }

    /// <summary>keepalive hook (decap): true when <paramref name="f"/> was a keepalive and is handled (reflected,
    /// consumed, or dropped with its reason); false to go on as usual. <paramref name="reason"/> and
    /// <paramref name="tunnel"/> are the decapsulator's verdict; on success the frame holds the inner packet.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool KeepaliveHandled(ref Frame f, Tunnel? tunnel, DropReason reason)
    {
        if (reason == DropReason.None)
            return f.Data[Ipv4Header.ProtocolOffset] == Ipv4Header.ProtocolGre && ReflectKeepalive(ref f, tunnel!);
        return reason == DropReason.GreUnsupportedProtocol && ConsumeKeepaliveReply(ref f);
    }

    /// <summary>A decapsulated GRE-in-GRE packet: when it is the peer's keepalive (inner source our tunnel source,
    /// inner destination the tunnel's remote), routes it back as Linux does, skipping the martian check.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool ReflectKeepalive(ref Frame f, Tunnel tunnel)
    {
        Span<byte> inner = f.Data;
        uint source = BinaryPrimitives.ReadUInt32BigEndian(inner.Slice(Ipv4Header.SourceOffset));
        uint destination = BinaryPrimitives.ReadUInt32BigEndian(inner.Slice(Ipv4Header.DestinationOffset));
        if (source != tunnel.Local || destination != tunnel.Remote) return false;
        if (!ParseInner(ref f)) return true; // dropped with the inner header's reason, as any inner packet
        tunnel.Keepalive.CountReflected();
        Route(ref f, _routes.Lookup(destination), -1);
        return true;
    }

    /// <summary>A GRE packet of a type the decapsulator refuses, data at its outer header: consumed when it is one
    /// of our probes coming back from a tunnel's remote.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool ConsumeKeepaliveReply(ref Frame f)
    {
        if (!TunnelKeepalive.TryParseReply(f.Data, out uint source, out uint destination, out uint? key, out ushort id)) return false;
        Tunnel? tunnel = _s.Decap.Lookup(source, destination, Ipv4Header.ProtocolGre, key);
        if (tunnel is null) return false;
        tunnel.Keepalive.RecordReply(id, Stopwatch.GetTimestamp());
        f.OutPort = PacketBatch.NoPort; // consumed
        return true;
    }

    /// <summary>Timer pass: builds the probes the control plane posted and queues them for encapsulation.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void SendKeepalives()
    {
        var outbox = Keepalives!;
        while (!GeneratedFull && outbox.TryTake(out var tunnel, out ushort id))
        {
            int index = TunnelIndexOf(tunnel);
            if (index < 0) continue; // the tunnel went away in a reload
            ref Frame g = ref AddGenerated();
            if (!_pool.TryRent(ref g)) { Generated.Count--; Counters.Drop(DropReason.PoolExhausted); return; }
            g.Flags = FrameFlags.Generated;
            g.InPort = PacketBatch.NoPort;
            g.OutPort = PacketBatch.NoPort;
            g.Drop = DropReason.None;
            g.Length = TunnelKeepalive.MaxProbeLength; // room to write, then the probe's own length
            g.Length = TunnelKeepalive.WriteProbe(g.Data, tunnel!.Settings, id);
            tunnel.Keepalive.MarkSent(id, Stopwatch.GetTimestamp());
            QueueEncap(ref g, index);
        }
    }
}
