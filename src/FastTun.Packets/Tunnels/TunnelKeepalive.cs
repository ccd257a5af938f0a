using System.Buffers.Binary;
using System.Diagnostics;
using FastTun.Packets.Headers;

namespace FastTun.Packets.Tunnels;

/// <summary>
/// Cisco-style GRE keepalive of one tunnel: the probe format and the record of probes sent and answered.
///
/// A probe is the packet the peer would send back to us, sent into the tunnel: inner IPv4 remote → local,
/// protocol 47, TTL 255, carrying a bare GRE header of protocol type 0 and no payload. The peer decapsulates it
/// as any GRE packet and routes the inner packet back to our tunnel source (a Linux peer does this when it forwards
/// and has <c>accept_local=1</c>, as Cisco and MikroTik peers do; FastTun does it always, see
/// <c>Pipeline.Keepalive.cs</c>). The outer header is the tunnel's own
/// (key, checksum and sequence options as configured), written by the normal encapsulation. When the tunnel
/// receives with a key, the inner GRE header carries that key too (K flag): the returning packet then names
/// its tunnel even where several tunnels share the endpoints, and a Linux reflector routes it unchanged.
/// The inner IP ID numbers the probe, so a reply names the probe it answers and gives its round trip.
///
/// Shared by a tunnel and the tunnels rebuilt from it (<c>tunnel set</c>, reload), like its other running state.
/// Writers: the worker that sends a probe (<see cref="MarkSent"/>) and any worker that receives a reply or
/// reflects a peer's probe; readers: the control plane. All rare paths, so plain Interlocked/Volatile.
/// </summary>
public sealed class TunnelKeepalive
{
    /// <summary>Inner IPv4 header + 4-byte GRE header.</summary>
    public const int ProbeLength = Ipv4Header.MinLength + GreHeader.BaseLength;
    /// <summary>With the key option (a tunnel that receives with a key).</summary>
    public const int MaxProbeLength = ProbeLength + 4;
    /// <summary>GRE protocol type of a keepalive (Cisco): 0.</summary>
    public const ushort ProtocolKeepalive = 0;
    /// <summary>Inner TTL of a probe: 255, so a reply survives any underlay path.</summary>
    public const byte ProbeTtl = 255;
    private const int Slots = 64;

    // Per probe id (mod Slots): the id and the Stopwatch timestamp it left at. Written by the sending worker,
    // read by the worker that receives the reply (Volatile: the id is published after the timestamp). Made by the
    // first probe sent: most tunnels of a hub never send one, and the log is 0.8 KB (hub5: memory per tunnel).
    private ProbeLog? _log;

    private sealed class ProbeLog
    {
        public readonly long[] SentTicks = new long[Slots];
        public readonly int[] SentId = new int[Slots];
    }

    // Counters and RTTs: several workers may write (a reply can land on any queue), the control plane reads. Every
    // access is Interlocked: atomic 64-bit updates; the reply count is incremented last, so a reader that sees a
    // count also sees the RTT sum that goes with it (the average may lag by the reply being recorded, never tear).
    private long _sent, _replies, _stray, _reflected;
    private long _lastRttTicks, _rttSumTicks, _lastReplyTicks;

    /// <summary>Probes transmitted (taken by a worker and queued for encapsulation).</summary>
    public long Sent => Interlocked.Read(ref _sent);
    /// <summary>Replies received that matched a probe sent.</summary>
    public long Replies => Interlocked.Read(ref _replies);
    /// <summary>Keepalive-shaped packets for this tunnel that matched no probe we sent (consumed all the same).</summary>
    public long Stray => Interlocked.Read(ref _stray);
    /// <summary>The peer's probes this gateway reflected back to it.</summary>
    public long Reflected => Interlocked.Read(ref _reflected);
    /// <summary>Round trip of the latest reply, in seconds (0 before the first).</summary>
    public double LastRttSeconds => Interlocked.Read(ref _lastRttTicks) / (double)Stopwatch.Frequency;
    /// <summary>Mean round trip over every reply, in seconds (0 before the first).</summary>
    public double AverageRttSeconds
    {
        get
        {
            long n = Replies;
            return n == 0 ? 0 : Interlocked.Read(ref _rttSumTicks) / (double)n / Stopwatch.Frequency;
        }
    }
    /// <summary>Stopwatch timestamp of the latest reply, 0 before the first.</summary>
    public long LastReplyTicks => Interlocked.Read(ref _lastReplyTicks);

    /// <summary>
    /// Writes the probe for <paramref name="tunnel"/> with IP ID <paramref name="id"/> into
    /// <paramref name="destination"/> and returns its length (0 when it does not fit):
    /// IPv4 remote → local, protocol 47, TTL 255, DF clear, TOS 0; GRE flags 0 (K and the input key when the tunnel
    /// has one), protocol type 0, no payload.
    /// </summary>
    public static int WriteProbe(Span<byte> destination, TunnelSettings tunnel, ushort id)
    {
        ArgumentNullException.ThrowIfNull(tunnel);
        int greLength = GreHeader.BaseLength + (tunnel.InputKey.HasValue ? 4 : 0);
        int total = Ipv4Header.MinLength + greLength;
        if (destination.Length < total) return 0;
        Ipv4Header.Write(destination, 0, (ushort)total, id, dontFragment: false, ProbeTtl, Ipv4Header.ProtocolGre,
            tunnel.Remote, tunnel.Local);
        Span<byte> gre = destination.Slice(Ipv4Header.MinLength, greLength);
        BinaryPrimitives.WriteUInt16BigEndian(gre, tunnel.InputKey.HasValue ? GreHeader.FlagKey : (ushort)0);
        BinaryPrimitives.WriteUInt16BigEndian(gre.Slice(GreHeader.ProtocolTypeOffset), ProtocolKeepalive);
        if (tunnel.InputKey is uint key) BinaryPrimitives.WriteUInt32BigEndian(gre.Slice(GreHeader.OptionsOffset), key);
        return total;
    }

    /// <summary>
    /// Recognises a returning probe: <paramref name="packet"/> is an IPv4 packet (header already checked) of
    /// protocol 47 whose GRE header is version 0, protocol type 0, with no checksum or sequence option and nothing
    /// after it. Returns its source, destination, key (when the K flag is set) and IP ID.
    /// </summary>
    public static bool TryParseReply(ReadOnlySpan<byte> packet, out uint source, out uint destination, out uint? key, out ushort id)
    {
        source = destination = 0;
        key = null;
        id = 0;
        if (packet.Length < Ipv4Header.MinLength || packet[Ipv4Header.ProtocolOffset] != Ipv4Header.ProtocolGre) return false;
        int ihl = (packet[Ipv4Header.VersionIhlOffset] & 0x0F) << 2;
        int total = BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(Ipv4Header.TotalLengthOffset));
        if (ihl < Ipv4Header.MinLength || total > packet.Length || total < ihl + GreHeader.BaseLength) return false;
        ReadOnlySpan<byte> gre = packet.Slice(ihl, total - ihl);
        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(gre);
        if (BinaryPrimitives.ReadUInt16BigEndian(gre.Slice(GreHeader.ProtocolTypeOffset)) != ProtocolKeepalive) return false;
        if ((flags & ~GreHeader.FlagKey) != 0) return false; // version 0, no checksum, no sequence, reserved clear
        int length = GreHeader.BaseLength;
        if ((flags & GreHeader.FlagKey) != 0)
        {
            if (gre.Length < GreHeader.BaseLength + 4) return false;
            key = BinaryPrimitives.ReadUInt32BigEndian(gre.Slice(GreHeader.OptionsOffset));
            length += 4;
        }
        if (gre.Length != length) return false;
        source = BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(Ipv4Header.SourceOffset));
        destination = BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(Ipv4Header.DestinationOffset));
        id = BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(Ipv4Header.IdentificationOffset));
        return true;
    }

    /// <summary>Worker that transmits probe <paramref name="id"/>: records when it left.</summary>
    public void MarkSent(ushort id, long ticks)
    {
        int slot = id % Slots;
        ProbeLog log = Volatile.Read(ref _log) ?? CreateLog(); // acquire: pairs with the publication in CreateLog
        Volatile.Write(ref log.SentTicks[slot], ticks);
        Volatile.Write(ref log.SentId[slot], id); // release: the timestamp is visible before the id that names it
        Interlocked.Increment(ref _sent);
    }

    /// <summary>Worker that received a returning probe <paramref name="id"/> at <paramref name="ticks"/>: true when
    /// it answers a probe we sent (counted with its round trip), false for a stray one (counted apart).</summary>
    public bool RecordReply(ushort id, long ticks)
    {
        int slot = id % Slots;
        ProbeLog? log = Volatile.Read(ref _log);
        if (log is null || Volatile.Read(ref log.SentId[slot]) != id || Volatile.Read(ref log.SentTicks[slot]) == 0) // acquire: pairs with MarkSent
        {
            Interlocked.Increment(ref _stray);
            return false;
        }
        long rtt = Math.Max(0, ticks - Volatile.Read(ref log.SentTicks[slot]));
        Interlocked.Exchange(ref _lastRttTicks, rtt);
        Interlocked.Add(ref _rttSumTicks, rtt);
        Interlocked.Exchange(ref _lastReplyTicks, ticks);
        Interlocked.Increment(ref _replies); // last: a reader that sees the count sees the RTT that goes with it
        return true;
    }

    /// <summary>The probe log, made once (control of a probe's first send, not per packet); two workers racing keep one.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private ProbeLog CreateLog()
    {
        Interlocked.CompareExchange(ref _log, new ProbeLog(), null);
        return _log!;
    }

    /// <summary>A peer's probe was sent back towards it.</summary>
    public void CountReflected() => Interlocked.Increment(ref _reflected);
}

/// <summary>
/// Probes the control plane asks one worker to send: a bounded single-consumer queue of (tunnel, probe id). The
/// control plane posts (several timer callbacks may overlap, so posting takes a lock: a few posts per second);
/// the worker's pipeline takes them in its timer pass, builds each probe in its own frame pool and encapsulates
/// it through the tunnel, so sequence numbers and IP IDs come from the thread that owns them.
/// </summary>
public sealed class KeepaliveOutbox
{
    private const int Capacity = 256;
    private readonly Tunnel?[] _tunnel = new Tunnel?[Capacity];
    private readonly ushort[] _id = new ushort[Capacity];
    private readonly Lock _post = new();
    private long _head; // producer writes (release), consumer reads (acquire)
    private long _tail; // consumer writes (release), producer reads (acquire)

    /// <summary>True when a posted probe waits (any thread; a snapshot).</summary>
    public bool HasWork => Volatile.Read(ref _head) != Volatile.Read(ref _tail);

    /// <summary>Control plane: queues probe <paramref name="id"/> of <paramref name="tunnel"/>; false when full.</summary>
    public bool TryPost(Tunnel tunnel, ushort id)
    {
        ArgumentNullException.ThrowIfNull(tunnel);
        lock (_post)
        {
            long head = _head;
            if (head - Volatile.Read(ref _tail) >= Capacity) return false; // acquire: the consumer is done with the slot
            int slot = (int)(head % Capacity);
            _tunnel[slot] = tunnel;
            _id[slot] = id;
            Volatile.Write(ref _head, head + 1); // release: the slot before the head that publishes it
            return true;
        }
    }

    /// <summary>Worker (the one consumer): the next queued probe, if any.</summary>
    public bool TryTake(out Tunnel? tunnel, out ushort id)
    {
        long tail = _tail;
        if (tail == Volatile.Read(ref _head)) { tunnel = null; id = 0; return false; } // acquire: pairs with TryPost
        int slot = (int)(tail % Capacity);
        tunnel = _tunnel[slot];
        id = _id[slot];
        _tunnel[slot] = null;
        Volatile.Write(ref _tail, tail + 1); // release: the slot is free for the producer
        return true;
    }
}
