using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Datapath;

public sealed partial class Pipeline
{
    /// <summary>Off: every tunnel packet takes the general decap path (<see cref="Route"/> → <see cref="DeliverLocal"/>
    /// → <see cref="Decapsulate"/>). Tests turn it off to use the general path as the fast path's oracle.</summary>
    internal bool DecapFastEnabled { get; set; } = true;

    /// <summary>Tunnel packets the fast path decapsulated (or dropped as an old GRE sequence), for tests: that the
    /// oracle comparisons exercised it.</summary>
    internal long DecapFastPackets { get; private set; }

    /// <summary>
    /// Pass 3's decapsulation for the packet almost every tunnel packet is, after <see cref="TryForwardFast"/> declined
    /// it: a local next hop, an IPIP or GRE packet (version 0, type IPv4, any of C/K/S) with a 20-byte outer header that
    /// is not a fragment and not CE, from a tunnel of the table whose checksum and sequence flags it matches, carrying
    /// a valid 20-byte inner IPv4 header that is not GRE (a keepalive), and no capture running. The outer and inner
    /// headers are read once with fixed-size loads, the outer headers are stripped by moving the frame start, and the
    /// inner packet is queued for pass 4 exactly as <see cref="Decapsulate"/> queues it, with the same tunnel
    /// counters. Every check that can send the packet elsewhere runs before anything changes (the GRE sequence meter
    /// is the only state it touches, and only once the packet is sure to end here): when one does not pass, this
    /// returns false with nothing changed and the general path decides, names the drop, and answers strangers.
    /// A sequence the iseq window refuses is dropped here as the general path drops it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryDecapFast(ref Frame f, uint hopIndex, int rxIndex)
    {
        NextHop[] hops = _hops;
        if (hopIndex >= (uint)hops.Length
            || Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(hops), (nint)hopIndex).Kind != NextHopKind.Local)
            return false;
        return _tap is null && DecapFastEnabled && DecapFast(ref f, rxIndex);
    }

    private unsafe bool DecapFast(ref Frame f, int rxIndex)
    {
        byte* ip = (byte*)f.Buffer + f.Offset;
        int outerTotal = f.Length; // pass 1 trimmed the frame to the outer total length
        // Version/IHL 0x45, ECN not CE (RFC 6040 may drop or mark: general path), then no fragment bits.
        if (ip[Ipv4Header.VersionIhlOffset] != 0x45 || (ip[Ipv4Header.TosOffset] & Ipv4Header.EcnMask) == Ipv4Header.EcnCe) return false;
        if ((Unsafe.ReadUnaligned<ushort>(ip + Ipv4Header.FlagsFragmentOffset) & FragmentBitsInMemory) != 0) return false;
        byte protocol = ip[Ipv4Header.ProtocolOffset];
        uint source = LoadBigEndian(ip + Ipv4Header.SourceOffset);
        uint destination = LoadBigEndian(ip + Ipv4Header.DestinationOffset);
        int header = Ipv4Header.MinLength;
        uint flags = 0, key = 0;
        if (protocol == Ipv4Header.ProtocolGre)
        {
            if (outerTotal < Ipv4Header.MinLength + GreHeader.BaseLength) return false;
            uint word = LoadBigEndian(ip + Ipv4Header.MinLength); // flags and version, protocol type
            flags = word >> 16;
            // Version 0, reserved bits clear, type IPv4; anything else (a keepalive reply's type 0 included) is general.
            if ((word & 0x4FFF_FFFFu) != GreHeader.ProtocolIPv4) return false;
            header = Ipv4Header.MinLength + GreHeader.LengthOf((ushort)flags);
            if (outerTotal < header) return false;
            if ((flags & GreHeader.FlagChecksum) != 0
                && !Checksum.InternetChecksum.Verify(new ReadOnlySpan<byte>(ip + Ipv4Header.MinLength, outerTotal - Ipv4Header.MinLength)))
                return false;
            if ((flags & GreHeader.FlagKey) != 0)
                key = LoadBigEndian(ip + Ipv4Header.MinLength + GreHeader.OptionsOffset + ((flags & GreHeader.FlagChecksum) != 0 ? 4 : 0));
        }
        else if (protocol != Ipv4Header.ProtocolIpip) return false;

        // The inner header as ParseInner checks it, before anything changes; a keepalive (inner GRE) goes the general way.
        int innerAvailable = outerTotal - header;
        if (innerAvailable < Ipv4Header.MinLength) return false;
        byte* inner = ip + header;
        if (inner[0] != 0x45 || inner[Ipv4Header.ProtocolOffset] == Ipv4Header.ProtocolGre
            || !CommonHeaderValid(inner, innerAvailable, out int innerTotal)) return false;

        // The tunnel: pass 2's answer when the prefetch stages ran, else one probe of the table's snapshot.
        TunnelTable.Slot[] slots;
        int i;
        int prefound = (uint)rxIndex < (uint)_prefound.Length ? _prefound[rxIndex] : TunnelDecap.NotLookedUp;
        if (prefound != TunnelDecap.NotLookedUp && _decapSlots is { } batchSlots)
        {
            slots = batchSlots;
            i = prefound;
        }
        else
        {
            slots = _s.Decap.Snapshot;
            i = TunnelTable.IndexOf(slots, source, destination, protocol, (flags & GreHeader.FlagKey) != 0, key);
        }
        if ((uint)i >= (uint)slots.Length) return false; // no tunnel: the general path answers strangers
        ref TunnelTable.Slot slot = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(slots), i);
        Tunnel tunnel = slot.Tunnel!;
        if (protocol == Ipv4Header.ProtocolGre)
        {
            bool hasChecksum = (flags & GreHeader.FlagChecksum) != 0;
            if (hasChecksum != slot.InputChecksum) return false;
            if ((flags & GreHeader.FlagSequence) != 0)
            {
                // From here the packet ends in this method: the meter books its number once, as the general path would.
                uint sequence = LoadBigEndian(ip + header - 4);
                SequenceVerdict verdict = tunnel.SequenceMeter.Observe(sequence);
                if (slot.InputSequence && !GreSequenceMeter.Accepts(verdict))
                {
                    f.Drop = DropReason.GreSequenceOld;
                    DecapFastPackets++;
                    return true;
                }
            }
            else if (slot.InputSequence) return false;
        }

        long* counters = (long*)(slot.Counters + Worker * (nint)DecapCounterStore.WorkerStride);
        counters[0]++;
        counters[1] += innerAvailable; // as the general path: the outer payload after the tunnel header
        f.Offset += header;
        f.Length = innerTotal;
        QueueInner(LoadBigEndian(inner + Ipv4Header.DestinationOffset), rxIndex, tunnel);
        DecapFastPackets++;
        return true;
    }

    /// <summary>The MF flag and fragment offset bits of the flags/fragment field as a little- or big-endian load sees them.</summary>
    private static readonly ushort FragmentBitsInMemory = BitConverter.IsLittleEndian
        ? BinaryPrimitives.ReverseEndianness((ushort)(Ipv4Header.FlagMoreFragments | Ipv4Header.FragmentOffsetMask))
        : (ushort)(Ipv4Header.FlagMoreFragments | Ipv4Header.FragmentOffsetMask);
}
