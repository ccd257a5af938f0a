using System.Buffers.Binary;
using FastTun.Packets.Headers;

namespace FastTun.Packets.Tunnels;

/// <summary>
/// Runtime state of one tunnel: its settings, the outer header template built once, the GRE sequence numbers
/// and, per worker, the counters and the outer IP IDs (<see cref="TunnelWorkerSlot"/>). Workers never share a
/// slot, so the hot path mutates it without atomics; the control plane sums the slots when it reads.
/// The transmit sequence number has one writer: the worker that owns a sequenced tunnel's encapsulation
/// (see <see cref="Datapath.Pipeline"/>); the receive side (sequence window and meter) is
/// <see cref="SequenceMeter"/>.
/// </summary>
public sealed class Tunnel
{
    /// <summary>Workers a tunnel keeps separate counters and IP IDs for; a gateway never runs more.</summary>
    public const int MaxWorkers = 64;

    /// <summary>Outer IPv4 (20) + GRE header bytes with every constant field filled: version/IHL, protocol,
    /// addresses, GRE flags, protocol type and key. Checksum and sequence fields are zero. Encapsulation writes
    /// the same bytes from the words below (fixed-size stores instead of a variable-length copy).</summary>
    internal readonly byte[] Template;
    /// <summary>One's-complement partial sum of the constant outer IPv4 words (version/IHL, protocol,
    /// addresses), so the per-packet header checksum only adds the five words that change.</summary>
    internal readonly uint ConstantHeaderSum;
    /// <summary>Outer source and destination (host order) and protocol, as written at offsets 12, 16 and 9.</summary>
    internal readonly uint Local, Remote;
    internal readonly byte Protocol;
    /// <summary>GRE flags and protocol type (first GRE word), or 0 for IPIP.</summary>
    internal readonly uint GreWord0;
    internal readonly uint OutputKey;
    /// <summary>Offsets from the start of the outer header of the GRE key and sequence fields, 0 when not sent.</summary>
    internal readonly int KeyFieldOffset;
    internal readonly int SequenceFieldOffset;
    /// <summary>Fixed DSCP bits (ECN bits clear) when TOS is not inherited.</summary>
    internal readonly byte FixedDscp;
    internal readonly bool TosInherit;
    internal readonly byte FixedTtl;
    internal readonly bool PmtuDiscovery;
    internal readonly bool OutputChecksum;
    internal readonly bool InputChecksum;
    internal readonly bool InputSequence;

    // Running state, shared with the tunnel this one replaces when a change rebuilds it (`tunnel set`, reload), as
    // `ip tunnel change` keeps it: counters and IP IDs (Slots), the GRE output sequence, the receive window and
    // meter, the learned path MTU. Only deleting the tunnel starts them again.
    private readonly TxSequence _tx;
    private readonly ushort _firstId;

    /// <summary>One cache line per worker: encapsulation counters and the next IP ID.</summary>
    internal readonly TunnelWorkerSlot[] Slots;

    /// <summary>Decapsulation counters per worker, in the dense native store the tunnel table points at (a hub's
    /// receive path touches one 32-byte entry per packet, not a line of this object's).</summary>
    internal readonly DecapCounters DecapCounters;

    /// <summary>The path MTU learned from underlay frag-needed messages (see <see cref="Datapath.TunnelPath"/>).</summary>
    internal readonly LearnedPmtu Pmtu;

    public Tunnel(TunnelSettings settings) : this(settings, (ushort)Random.Shared.Next(1, 0x10000)) { }

    /// <summary>A new tunnel with counter lines for <paramref name="workers"/> workers (the gateway's worker count,
    /// fixed for the process): a hub of 10,000 tunnels then keeps 10,000 × workers lines hot instead of 10,000 ×
    /// <see cref="MaxWorkers"/> (4 KiB a tunnel), which the decap path of a hub pays for in cache and TLB misses.</summary>
    public Tunnel(TunnelSettings settings, int workers) : this(settings, (ushort)Random.Shared.Next(1, 0x10000), workers: workers) { }

    /// <summary>A tunnel rebuilt from a changed configuration (<c>tunnel set</c>, reload) that goes on with
    /// <paramref name="sequenceMeter"/>, the receive window and meter of the tunnel it replaces: a change never
    /// restarts them; only deleting the tunnel does.</summary>
    public Tunnel(TunnelSettings settings, GreSequenceMeter sequenceMeter) : this(settings, (ushort)Random.Shared.Next(1, 0x10000))
    {
        ArgumentNullException.ThrowIfNull(sequenceMeter);
        SequenceMeter = sequenceMeter;
    }

    /// <summary>A tunnel rebuilt from changed settings that goes on with all of <paramref name="previous"/>'s running
    /// state: counters, IP IDs, GRE output sequence, receive window and meter, learned path MTU.</summary>
    public Tunnel(TunnelSettings settings, Tunnel previous)
        : this(settings, previous._firstId, previous, previous.DecapCounters.Workers)
    {
    }

    internal Tunnel(TunnelSettings settings, ushort firstId, Tunnel? previous = null, int workers = MaxWorkers)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (workers is < 1 or > MaxWorkers) throw new ArgumentOutOfRangeException(nameof(workers), workers, $"1 to {MaxWorkers} workers");
        Settings = settings;
        HeaderLength = settings.Overhead;
        _firstId = firstId == 0 ? (ushort)1 : firstId;
        Slots = previous?.Slots ?? new TunnelWorkerSlot[workers];
        // Shared with the predecessor when it has entries for every worker; a rebuild for more workers starts new
        // entries and carries the predecessor's totals over (control plane; the old entries stay the old tunnel's).
        DecapCounters = previous is not null && previous.DecapCounters.Workers >= workers
            ? previous.DecapCounters
            : new DecapCounters(workers, previous?.DecapCounters);
        _tx = previous?._tx ?? new TxSequence();
        Pmtu = previous?.Pmtu ?? new LearnedPmtu();
        Keepalive = previous?.Keepalive ?? new TunnelKeepalive();
        if (previous is not null) SequenceMeter = previous.SequenceMeter;
        TosInherit = settings.Tos.Inherit;
        FixedDscp = (byte)(settings.Tos.Value & ~Ipv4Header.EcnMask);
        FixedTtl = settings.Ttl;
        PmtuDiscovery = settings.PmtuDiscovery;
        OutputChecksum = settings.OutputChecksum;
        InputChecksum = settings.InputChecksum;
        InputSequence = settings.InputSequence;

        Local = settings.Local;
        Remote = settings.Remote;
        Protocol = settings.Protocol;
        Template = new byte[HeaderLength];
        Ipv4Header.Write(Template, 0, 0, 0, 0, 0, settings.Protocol, settings.Local, settings.Remote);
        BinaryPrimitives.WriteUInt16BigEndian(Template.AsSpan(Ipv4Header.ChecksumOffset), 0);
        ConstantHeaderSum = 0x4500u + settings.Protocol
            + (settings.Local >> 16) + (settings.Local & 0xFFFF) + (settings.Remote >> 16) + (settings.Remote & 0xFFFF);
        if (settings.Mode == TunnelMode.Gre)
        {
            GreHeader.Write(Template.AsSpan(Ipv4Header.MinLength), GreHeader.ProtocolIPv4, settings.OutputChecksum,
                settings.OutputKey, settings.OutputSequence ? 0u : null);
            GreWord0 = BinaryPrimitives.ReadUInt32BigEndian(Template.AsSpan(Ipv4Header.MinLength));
            OutputKey = settings.OutputKey ?? 0;
            if (settings.OutputKey.HasValue)
                KeyFieldOffset = Ipv4Header.MinLength + GreHeader.OptionsOffset + (settings.OutputChecksum ? 4 : 0);
            if (settings.OutputSequence)
                SequenceFieldOffset = HeaderLength - 4;
        }
    }

    public TunnelSettings Settings { get; }
    /// <summary>How many workers this tunnel keeps counter lines and IP IDs for (a rebuilt tunnel keeps its
    /// predecessor's). A pipeline with more workers refuses a forwarding state holding it.</summary>
    public int WorkerSlots => Slots.Length;
    /// <summary>GRE keepalive probes sent, answered and reflected (running state, shared with a rebuilt tunnel).</summary>
    public TunnelKeepalive Keepalive { get; }
    /// <summary>RFC 2890 receive window and path-quality meter: every received GRE packet that carries a sequence
    /// number is booked here, with or without <c>iseq</c>; with <c>iseq</c> it also decides delivery. One writer,
    /// the worker that receives the tunnel (RSS hashes GRE/IPIP on the outer address pair, so one queue); a
    /// rebuilt tunnel shares its predecessor's instance, and the two are never used by that worker at once.</summary>
    public GreSequenceMeter SequenceMeter { get; } = new();
    public string Name => Settings.Name;
    /// <summary>Hash of the tunnel's wire identity: picks the worker that owns a sequenced tunnel's encapsulation.</summary>
    internal uint OwnerHash => (Settings.Local * 0x9E3779B1u) ^ (Settings.Remote * 0x85EBCA77u) ^ ((Settings.OutputKey ?? 0) * 0xC2B2AE3Du);
    /// <summary>True when the tunnel sends GRE sequence numbers: one worker must send all its packets.</summary>
    internal bool Sequenced => SequenceFieldOffset != 0;
    /// <summary>Bytes encapsulation prepends (outer IPv4 + GRE).</summary>
    public int HeaderLength { get; }

    /// <summary>Packets and inner bytes sent into the tunnel, summed over the workers (racy reads of counters
    /// each written by one worker: a sum may be one batch old, never torn).</summary>
    public long EncapPackets => Sum(static s => s.EncapPackets);
    public long EncapBytes => Sum(static s => s.EncapBytes);
    /// <summary>Packets and inner bytes received from the tunnel and accepted.</summary>
    public long DecapPackets => DecapCounters.Packets;
    public long DecapBytes => DecapCounters.Bytes;

    /// <summary>Packets of one worker, for tests and per-worker statistics.</summary>
    public long EncapPacketsOf(int worker) => Volatile.Read(ref Slots[worker].EncapPackets); // racy read of a single-writer counter

    private long Sum(Func<TunnelWorkerSlot, long> field)
    {
        long sum = 0;
        for (int w = 0; w < Slots.Length; w++) sum += field(Slots[w]);
        return sum;
    }

    /// <summary>
    /// The next outer IP ID of worker <paramref name="worker"/> of <paramref name="workers"/>: non-zero, and
    /// from that worker's own residue class (ID − 1 ≡ worker mod workers), so two workers never send the same
    /// ID within a wrap. One worker: every ID 1..65535 in turn, as before.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    internal ushort NextId(int worker, int workers)
    {
        ref TunnelWorkerSlot slot = ref Slots[worker];
        int id = slot.NextId;
        if (id == 0) id = FirstId(worker, workers);
        int next = id + workers;
        slot.NextId = next > 0xFFFF ? 1 + worker : next;
        return (ushort)id;
    }

    private int FirstId(int worker, int workers)
    {
        int perWorker = (0xFFFF - worker - 1) / workers + 1; // IDs 1+worker, 1+worker+workers, … ≤ 65535
        return 1 + worker + workers * ((_firstId - 1) % perWorker);
    }

    /// <summary>The GRE sequence number for the next packet: 0 first, then +1, as Linux's o_seqno. One writer:
    /// the pipeline hands every packet of a sequenced tunnel to the tunnel's owner worker, so the numbers
    /// leave through one tx queue in the order they were taken.</summary>
    internal uint NextTxSequence() => _tx.Next++;

    /// <summary>Sets the next outer IP ID of worker 0 (tests build byte-exact golden frames with it).</summary>
    internal void SetNextId(ushort id) => Slots[0].NextId = id == 0 ? 1 : id;

    public override string ToString() => Settings.ToString();
}

/// <summary>One worker's share of a tunnel's transmit state (the receive counters are <see cref="DecapCounters"/>), padded to a cache line so workers never write the same
/// line.</summary>
[System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit, Size = 64)]
internal struct TunnelWorkerSlot
{
    [System.Runtime.InteropServices.FieldOffset(0)] public long EncapPackets;
    [System.Runtime.InteropServices.FieldOffset(8)] public long EncapBytes;
    /// <summary>The next IP ID this worker sends, 0 before the first.</summary>
    [System.Runtime.InteropServices.FieldOffset(32)] public int NextId;
}

/// <summary>The GRE output sequence number, in a box a rebuilt tunnel shares with its predecessor. One writer: the
/// worker that owns the sequenced tunnel's encapsulation.</summary>
internal sealed class TxSequence
{
    public uint Next;
}

/// <summary>A path MTU learned from an underlay frag-needed, kept as the underlay's MTU so that a change of the
/// tunnel's overhead (a key added) still applies it right. Shared by a rebuilt tunnel and its predecessor.</summary>
internal sealed class LearnedPmtu
{
    public int UnderlayMtu;
    public long UntilMs;
}
