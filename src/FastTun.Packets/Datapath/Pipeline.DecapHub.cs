using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Datapath;

public sealed partial class Pipeline
{
    /// <summary>
    /// The decap run of a hub (session 9): a tunnel table large enough for pass 1's hints (<see cref="_prefetchSlots"/>),
    /// whose packets change spoke at nearly every packet. The same work and the same answers as
    /// <see cref="DecapRunFast{TShape}"/> for the packets a hub carries (IPIP, and GRE with at most a key: no checksum,
    /// no sequence number, from a tunnel that requires neither), with less of it per change of spoke:
    /// <list type="bullet">
    /// <item>the hinted slot is tested with two 8-byte compares (<see cref="TunnelTable.HoldsPlain"/>): the packet's address
    /// word is one byte swap of its header bytes 12–19; the key word also says that the tunnel wants no checksum or
    /// sequence, so no flag is tested after it;</item>
    /// <item>the run's memo of the last spoke is those two words;</item>
    /// <item>no GRE checksum, sequence meter or old-sequence drop: fewer registers live across the loop.</item>
    /// </list>
    /// It stops at the first packet it does not take; <see cref="DecapRunFast(int, int)"/> then runs the general loop from
    /// there, which takes what this one leaves (a sequenced or checksummed GRE packet) or stops in turn. Returns how many
    /// of pass 3's items from <paramref name="start"/> it handled (decapsulated, or dropped by the outer source check).
    /// </summary>
    private unsafe int DecapRunHub<TShape>(int start, int m, TunnelTable.Slot[] slots) where TShape : struct, IEncapShape
    {
        if ((uint)m > (uint)_hop.Length || (uint)m > (uint)_routeItems.Length || slots.Length == 0) return 0;
        ref uint hop0 = ref MemoryMarshal.GetArrayDataReference(_hop);
        ref RouteItem items0 = ref MemoryMarshal.GetArrayDataReference(_routeItems);
        ref TunnelTable.Slot slots0 = ref MemoryMarshal.GetArrayDataReference(slots);
        int mask = slots.Length - 1; // a power of two: a hint masked with it is always in range
        Span<Frame> frames = _batch.Frames;
        NextHop[] hops = _hops;
        nint workerOffset = Worker * (nint)DecapCounterStore.WorkerStride;
        byte protocol = TShape.Gre ? Ipv4Header.ProtocolGre : Ipv4Header.ProtocolIpip;

        // The last packet's slot words and slot: a run of one spoke's packets probes once.
        ulong lastAddresses = 0, lastKeyWord = ulong.MaxValue; // never a key word: its top bytes are 0
        int slotIndex = 0;
        ushort lastPort = 0;

        int innerCount = _innerCount;
        int innerRuns = _innerRuns;
        int innerLimit = Math.Min(Math.Min(_innerTunnel.Length, _innerSource.Length), Math.Min(Math.Min(_innerDst.Length, _innerTtlWord.Length), _innerFrameOf.Length));
        bool storeTunnels = _s.Sources.DependsOnTunnel;
        long sourceEpoch = _sourceEpoch;

        for (int a = start; a < m && a < start + EntryAhead; a++)
            TunnelTable.PrefetchEntry(slots, Unsafe.Add(ref items0, a).TunnelSlot, workerOffset);
        int j = start;
        for (; j < m; j++)
        {
            if (j + EntryAhead < m) TunnelTable.PrefetchEntry(slots, Unsafe.Add(ref items0, j + EntryAhead).TunnelSlot, workerOffset);
            uint hopIndex = Unsafe.Add(ref hop0, j);
            if (hopIndex >= (uint)hops.Length || hops[hopIndex].Kind != NextHopKind.Local) break;
            if (innerCount >= innerLimit) break; // never: at most one entry per rx frame
            ref RouteItem item = ref Unsafe.Add(ref items0, j);
            int i = item.Frame;
            ref Frame f = ref frames[i];
            byte* ip = (byte*)f.Buffer + f.Offset;
            int outerTotal = f.Length; // pass 1 trimmed the frame to the outer total length
            if (ip[Ipv4Header.VersionIhlOffset] != 0x45 || (ip[Ipv4Header.TosOffset] & Ipv4Header.EcnMask) == Ipv4Header.EcnCe
                || (Unsafe.ReadUnaligned<ushort>(ip + Ipv4Header.FlagsFragmentOffset) & FragmentBitsInMemory) != 0
                || ip[Ipv4Header.ProtocolOffset] != protocol) break;
            int header = Ipv4Header.MinLength;
            ulong keyWord;
            if (TShape.Gre)
            {
                if (outerTotal < Ipv4Header.MinLength + GreHeader.BaseLength) break;
                uint word = LoadBigEndian(ip + Ipv4Header.MinLength); // flags and version, protocol type
                // Version 0, no reserved bit, no checksum, no sequence, type IPv4; a key or not. Anything else (C or S
                // set, a keepalive reply's type 0) is the general loop's.
                if ((word & ~((uint)GreHeader.FlagKey << 16)) != GreHeader.ProtocolIPv4) break;
                bool hasKey = (word & ((uint)GreHeader.FlagKey << 16)) != 0;
                header = Ipv4Header.MinLength + GreHeader.OptionsOffset + (hasKey ? 4 : 0);
                if (outerTotal < header) break;
                keyWord = TunnelTable.PlainKeyWord(protocol, hasKey, hasKey ? LoadBigEndian(ip + Ipv4Header.MinLength + GreHeader.OptionsOffset) : 0);
            }
            else keyWord = TunnelTable.PlainKeyWord(protocol, false, 0);

            int innerAvailable = outerTotal - header;
            if (innerAvailable < Ipv4Header.MinLength) break;
            byte* inner = ip + header;
            if (inner[Ipv4Header.VersionIhlOffset] != 0x45 || inner[Ipv4Header.ProtocolOffset] == Ipv4Header.ProtocolGre
                || !CommonHeaderValid(inner, innerAvailable, out int innerTotal)) break;

            ulong addresses = TunnelTable.AddressWord(Unsafe.ReadUnaligned<ulong>(ip + Ipv4Header.SourceOffset));
            bool sameSpoke = addresses == lastAddresses && keyWord == lastKeyWord;
            if (!sameSpoke)
            {
                // Pass 1's home slot (masked: any hint is safe), else the full probe; a slot found there that wants a
                // checksum or sequence number is the general loop's.
                int hint = item.TunnelSlot & mask;
                if (TunnelTable.HoldsPlain(ref Unsafe.Add(ref slots0, hint), addresses, keyWord)) slotIndex = hint;
                else
                {
                    bool hasKey = TShape.Gre && (ip[Ipv4Header.MinLength] << 8 & GreHeader.FlagKey) != 0;
                    int found = TunnelTable.IndexOf(slots, (uint)(addresses >> 32), (uint)addresses, protocol, hasKey,
                        hasKey ? LoadBigEndian(ip + Ipv4Header.MinLength + GreHeader.OptionsOffset) : 0);
                    if (found < 0 || !TunnelTable.HoldsPlain(ref Unsafe.Add(ref slots0, found), addresses, keyWord)) break;
                    slotIndex = found;
                }
            }
            ref TunnelTable.Slot slot = ref Unsafe.Add(ref slots0, slotIndex);
            long* entry = (long*)(slot.Counters + workerOffset);
            // The outer source check (pass 3's, hub7s hook): the tunnel's cached verdict unless this is the last packet's
            // spoke on the same port, whose check passed.
            if ((!sameSpoke || f.InPort != lastPort)
                && (entry[DecapCounters.VerdictEpochField] != sourceEpoch
                    || (ulong)entry[DecapCounters.VerdictKeyField] != DecapCounters.VerdictKey((uint)(addresses >> 32), f.InPort))
                && !SourceAllowedOuter(ref f, (uint)(addresses >> 32), (nint)entry))
            {
                lastKeyWord = ulong.MaxValue; // dropped (as pass 3 drops it): the next packet probes again
                continue;
            }
            lastAddresses = addresses;
            lastKeyWord = keyWord;
            lastPort = f.InPort;

            entry[0]++;
            entry[1] += innerAvailable; // as the general path: the outer payload after the tunnel header
            f.Offset += header;
            f.Length = innerTotal;

            // QueueInner, the arrays read from their fields where used (innerLimit bounds every index): no base register
            // held across the loop.
            uint innerDestination = LoadBigEndian(inner + Ipv4Header.DestinationOffset);
            ref uint innerDst0 = ref MemoryMarshal.GetArrayDataReference(_innerDst);
            if (innerCount == 0 || innerDestination != Unsafe.Add(ref innerDst0, innerCount - 1)) innerRuns++;
            Unsafe.Add(ref innerDst0, innerCount) = innerDestination;
            Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_innerSource), innerCount) = LoadBigEndian(inner + Ipv4Header.SourceOffset);
            Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_innerTtlWord), innerCount) = Unsafe.ReadUnaligned<uint>(inner + Ipv4Header.TtlOffset);
            Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_innerFrameOf), innerCount) = i;
            if (storeTunnels) StoreInnerTunnel(innerCount, slot.Tunnel!);
            innerCount++;
        }
        DecapFastPackets += innerCount - _innerCount; // decapsulated (this loop drops no old sequence)
        _innerCount = innerCount;
        _innerRuns = innerRuns;
        return j - start;
    }

    /// <summary>Stores the tunnel of queued inner packet <paramref name="k"/> for pass 4 (strict rp-filter only): once per
    /// run of one tunnel, as <see cref="QueueInner"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void StoreInnerTunnel(int k, Tunnel tunnel)
    {
        Tunnel?[] tunnels = _innerTunnel;
        if (k == 0 || !ReferenceEquals(tunnel, tunnels[_innerTunnelAt]))
        {
            tunnels[k] = tunnel;
            _innerTunnelAt = k;
        }
    }
}
