using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;

namespace FastTun.Packets.Tunnels;

/// <summary>
/// Takes the outer headers off a tunnel packet addressed to us, with Linux's receive rules (ip_tunnel_rcv,
/// gre_parse_header, RFC 6040 decapsulation):
/// outer header valid (version, lengths, checksum) and not a fragment → protocol 4 or 47 → GRE version 0,
/// reserved bits clear, type IPv4, checksum correct when present → exact (remote, local, key) lookup →
/// C flag as configured → sequence inside the window (<see cref="GreSequenceMeter"/>) → inner IPv4 valid → ECN: outer CE marks an ECT inner CE and
/// drops a not-ECT inner.
/// </summary>
public static class TunnelDecap
{
    /// <summary>
    /// On entry <paramref name="frame"/>'s data starts at the outer IPv4 header; on success it is exactly the
    /// inner IPv4 packet, ending at the inner total length (link padding and any slack after the
    /// inner packet removed) and <paramref name="tunnel"/> the tunnel
    /// it arrived on. On failure the frame is unchanged and the reason names the first check that failed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason Decapsulate(TunnelTable table, ref Frame frame, out Tunnel? tunnel) =>
        Decapsulate(table, ref frame, out tunnel, outerChecksumVerified: false);

    /// <summary>As <see cref="Decapsulate(TunnelTable, ref Frame, out Tunnel?)"/>; a caller that has already
    /// verified the outer header checksum (the gateway pipeline does, before routing the packet to itself)
    /// passes <paramref name="outerChecksumVerified"/> to skip summing the header a second time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason Decapsulate(TunnelTable table, ref Frame frame, out Tunnel? tunnel, bool outerChecksumVerified)
    {
        tunnel = null;
        Span<byte> data = frame.Data;
        if (!Ipv4Header.TryParse(data, out _, out DropReason reason)) return reason;
        int outerHeaderLength = (data[Ipv4Header.VersionIhlOffset] & 0x0F) << 2;
        if (!outerChecksumVerified && Ipv4Header.HeaderSum(data, outerHeaderLength) != 0xFFFF) return DropReason.BadIpChecksum;
        tunnel = DecapsulateParsed(table, ref frame, 0, checkInner: true, out reason);
        return reason;
    }

    /// <summary>
    /// The receive checks after the outer header: the caller has verified it (version, lengths, checksum; the
    /// frame ends at its total length). <paramref name="checkInner"/> false leaves the inner header's checks to
    /// the caller (the pipeline parses it once, as it parses every packet it routes); the frame then ends at the
    /// outer total length. Counters go to <paramref name="worker"/>'s slot. Returns the tunnel (reason None) or
    /// null with the reason: the tunnel is the return value rather than an out parameter so that, when this is
    /// not inlined, the caller's local is not address-exposed (a write barrier per packet).
    /// <paramref name="slots"/>: the snapshot of <paramref name="table"/> a batch looks every packet up in (null: the
    /// table's current one). The tunnel's receive flags and
    /// counter lines come from its table slot: an IPIP or keyed GRE packet never loads the tunnel object.
    /// <paramref name="worker"/> is below <see cref="TunnelTable.CounterWorkers"/>, checked once by the caller, not per
    /// packet: the batch below checks it, worker 0 always has entries, and the pipeline refuses a forwarding state
    /// whose tunnels keep fewer worker slots than it runs (their counter entries are never fewer than their slots).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Tunnel? DecapsulateParsed(TunnelTable table, ref Frame frame, int worker, bool checkInner, out DropReason reason,
        TunnelTable.Slot[]? slots = null)
    {
        // Fields are read straight from the span once the views' TryParse has checked the lengths: the view
        // accessors re-derive offsets on every call and, past the JIT's inlining budget for a method this
        // size, become calls.
        Span<byte> data = frame.Data;
        int outerHeaderLength = (data[Ipv4Header.VersionIhlOffset] & 0x0F) << 2;
        if ((BinaryPrimitives.ReadUInt16BigEndian(data.Slice(Ipv4Header.FlagsFragmentOffset))
             & (Ipv4Header.FlagMoreFragments | Ipv4Header.FragmentOffsetMask)) != 0)
        {
            reason = DropReason.TunnelFragment;
            return null;
        }

        int outerTotal = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(Ipv4Header.TotalLengthOffset));
        uint source = BinaryPrimitives.ReadUInt32BigEndian(data.Slice(Ipv4Header.SourceOffset));
        uint destination = BinaryPrimitives.ReadUInt32BigEndian(data.Slice(Ipv4Header.DestinationOffset));
        byte protocol = data[Ipv4Header.ProtocolOffset];
        int headerLength;
        int i;
        slots ??= table.Snapshot;
        if (protocol == Ipv4Header.ProtocolIpip)
        {
            i = TunnelTable.IndexOf(slots, source, destination, protocol, false, 0);
            if (i < 0) { reason = DropReason.NoTunnel; return null; }
            headerLength = outerHeaderLength;
        }
        else if (protocol == Ipv4Header.ProtocolGre)
        {
            i = AcceptGre(table, slots, data.Slice(outerHeaderLength, outerTotal - outerHeaderLength), source, destination,
                out reason, out int greLength);
            if (i < 0) return null;
            headerLength = outerHeaderLength + greLength;
        }
        else
        {
            reason = DropReason.UnsupportedProtocol;
            return null;
        }

        Span<byte> innerBytes = data.Slice(headerLength, outerTotal - headerLength);
        int innerTotal;
        if (checkInner)
        {
            if (!Ipv4Header.TryParse(innerBytes, out _)) { reason = DropReason.InnerMalformed; return null; }
            innerTotal = BinaryPrimitives.ReadUInt16BigEndian(innerBytes.Slice(Ipv4Header.TotalLengthOffset));
        }
        else
        {
            if (innerBytes.Length < Ipv4Header.MinLength) { reason = DropReason.InnerMalformed; return null; }
            innerTotal = innerBytes.Length; // the caller parses the inner header and trims to its total length
        }

        if ((data[Ipv4Header.TosOffset] & Ipv4Header.EcnMask) == Ipv4Header.EcnCe && !PropagateCe(innerBytes))
        {
            reason = DropReason.EcnCeOnNotEct;
            return null;
        }

        frame.TrimFront(headerLength);
        frame.Length = innerTotal;
        ref TunnelTable.Slot found = ref slots[i];
        unsafe
        {
            long* counters = (long*)(found.Counters + worker * (nint)DecapCounterStore.WorkerStride);
            counters[0]++;
            counters[1] += innerTotal;
        }
        reason = DropReason.None;
        return found.Tunnel;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowWorker(int worker, int workers) =>
        throw new ArgumentOutOfRangeException(nameof(worker), worker, $"0 to {workers - 1}: the table's tunnels have decap counters for {workers} workers");


    /// <summary>
    /// Decapsulates every frame of <paramref name="frames"/> not already dropped, as
    /// <see cref="Decapsulate(TunnelTable, ref Frame, out Tunnel?)"/> does each one, marking failures in
    /// <see cref="Frame.Drop"/>; counters go to <paramref name="worker"/>'s entry. For a table of
    /// <see cref="TunnelTable.PrefetchSlots"/> or more (a hub), the loop asks for the table line of the packet
    /// <see cref="PrefetchAhead"/> places ahead while it decapsulates the current one, so that a hub with thousands of
    /// spokes pays less for lines outside the core's cache; a smaller table stays in that cache and is decapsulated
    /// without the prefetches (as the pipeline does). Returns the number decapsulated.
    /// </summary>
    public static int DecapsulateBatch(TunnelTable table, Span<Frame> frames, int worker = 0)
    {
        ArgumentNullException.ThrowIfNull(table);
        TunnelTable.Slot[] slots = table.Snapshot; // one snapshot for the batch
        // Read after the snapshot (Add lowers it before publishing the slots): a worker index without counter entries
        // in every tunnel of this snapshot is refused before any frame changes. An entry beyond a tunnel's workers would
        // be summed by no reader, cleared by no finalizer, and inherited by the next tunnel renting those counters.
        int workers = table.CounterWorkers;
        if ((uint)worker >= (uint)workers) ThrowWorker(worker, workers);
        int n = frames.Length;
        bool prefetch = slots.Length >= TunnelTable.PrefetchSlots;
        if (prefetch)
            for (int i = 0; i < Math.Min(PrefetchAhead, n); i++) PrefetchSlotOf(slots, frames[i]);
        int done = 0;
        for (int i = 0; i < n; i++)
        {
            if (prefetch && i + PrefetchAhead < n) PrefetchSlotOf(slots, frames[i + PrefetchAhead]);
            ref Frame f = ref frames[i];
            if (f.Drop != DropReason.None) continue;
            Span<byte> data = f.Data;
            if (!Ipv4Header.TryParse(data, out _, out DropReason reason)) { f.Drop = reason; continue; }
            int outerHeaderLength = (data[Ipv4Header.VersionIhlOffset] & 0x0F) << 2;
            if (Ipv4Header.HeaderSum(data, outerHeaderLength) != 0xFFFF) { f.Drop = DropReason.BadIpChecksum; continue; }
            if (DecapsulateParsed(table, ref f, worker, checkInner: true, out reason, slots) is null)
            {
                f.Drop = reason;
                continue;
            }
            done++;
        }
        return done;
    }

    /// <summary>Packets between the one whose table line is asked for and the one decapsulated: enough for an L3 or
    /// memory access to arrive while the packets in between are decapsulated, few enough that the lines stay in L1.
    /// (Measured against the earlier two separate prefetch passes over 64 packets: those cost 8 ns per packet of
    /// their own; this costs the endpoint read and the hash.)</summary>
    private const int PrefetchAhead = 8;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchSlotOf(TunnelTable.Slot[] slots, in Frame f)
    {
        if (f.Drop == DropReason.None) TunnelTable.PrefetchPacket(slots, f.Data); // fixed-size key read (hub5)
    }

    /// <summary>A packet's tunnel-table key as <see cref="TunnelTable.TryReadKey"/> reads it, kept between the pipeline's
    /// prefetch passes (pass 1 and 2) so that no pass reads it twice.</summary>
    internal struct Endpoints
    {
        public uint Source, Destination, Key;
        public byte Protocol;
        public bool HasKey, Valid;
    }

    /// <summary>GRE receive checks in Linux order (gre_parse_header, then ip_tunnel_rcv after the lookup).
    /// <paramref name="gre"/> is the outer payload up to the outer total length. Not inlined: measured no slower
    /// for GRE, and it keeps the IPIP path small where callers inline Decapsulate.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int AcceptGre(TunnelTable table, TunnelTable.Slot[] slots, Span<byte> gre, uint source,
        uint destination, out DropReason reason, out int greLength)
    {
        // Returns the tunnel's slot index in slots (reason None) or −1 with the reason.
        greLength = 0;
        if (!GreHeader.TryParse(gre, out _, out reason)) return -1;
        uint flags = BinaryPrimitives.ReadUInt16BigEndian(gre);
        reason = DropReason.GreUnsupportedProtocol;
        if (BinaryPrimitives.ReadUInt16BigEndian(gre.Slice(GreHeader.ProtocolTypeOffset)) != GreHeader.ProtocolIPv4)
            return -1;
        bool hasChecksum = (flags & GreHeader.FlagChecksum) != 0;
        reason = DropReason.BadChecksum;
        if (hasChecksum && !Checksum.InternetChecksum.Verify(gre)) return -1;
        int offset = GreHeader.OptionsOffset + (hasChecksum ? 4 : 0);
        uint? key = null;
        if ((flags & GreHeader.FlagKey) != 0)
        {
            key = BinaryPrimitives.ReadUInt32BigEndian(gre.Slice(offset));
            offset += 4;
        }
        int i = TunnelTable.IndexOf(slots, source, destination, Ipv4Header.ProtocolGre, key.HasValue, key.GetValueOrDefault());
        if (i < 0)
        {
            reason = NoGreTunnel(table, source, destination);
            return -1;
        }
        ref TunnelTable.Slot t = ref slots[i];
        if (hasChecksum != t.InputChecksum)
        {
            reason = hasChecksum ? DropReason.GreChecksumUnexpected : DropReason.GreChecksumMissing;
            return -1;
        }
        bool hasSequence = (flags & GreHeader.FlagSequence) != 0;
        if (hasSequence)
        {
            // Every sequenced packet is metered; with iseq the window (RFC 2890, hardened against spoofed jumps
            // and peer restarts) also decides delivery. Without iseq the meter only measures, as Linux accepts.
            SequenceVerdict verdict = t.Tunnel!.SequenceMeter.Observe(BinaryPrimitives.ReadUInt32BigEndian(gre.Slice(offset)));
            reason = DropReason.GreSequenceOld;
            if (t.InputSequence && !GreSequenceMeter.Accepts(verdict)) return -1;
        }
        else if (t.InputSequence)
        {
            reason = DropReason.GreSequenceMissing;
            return -1;
        }
        greLength = offset + (hasSequence ? 4 : 0);
        reason = DropReason.None;
        return i;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DropReason NoGreTunnel(TunnelTable table, uint source, uint destination) =>
        table.HasEndpoints(source, destination, Ipv4Header.ProtocolGre) ? DropReason.GreKeyMismatch : DropReason.NoTunnel;

    /// <summary>RFC 6040 decapsulation when the outer header is CE (rare, so not inlined): an ECT inner packet
    /// becomes CE; a CE one stays; a not-ECT one must be dropped (returns false).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool PropagateCe(Span<byte> inner)
    {
        int innerEcn = inner[Ipv4Header.TosOffset] & Ipv4Header.EcnMask;
        if (innerEcn == Ipv4Header.EcnNotEct) return false;
        if (innerEcn != Ipv4Header.EcnCe) SetCe(inner);
        return true;
    }

    /// <summary>Marks an ECT inner header CE and patches its checksum incrementally (RFC 1624 eqn. 3) for the
    /// changed first word (version/IHL, TOS), instead of summing the header again.</summary>
    private static void SetCe(Span<byte> header)
    {
        ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(header);
        ushort newWord = (ushort)(oldWord | Ipv4Header.EcnCe);
        header[Ipv4Header.TosOffset] = (byte)newWord;
        ushort oldChecksum = BinaryPrimitives.ReadUInt16BigEndian(header.Slice(Ipv4Header.ChecksumOffset));
        BinaryPrimitives.WriteUInt16BigEndian(header.Slice(Ipv4Header.ChecksumOffset), Checksum.IncrementalChecksum.Update16(oldChecksum, oldWord, newWord));
    }

}
