using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastTun.Packets.Checksum;
using System.Runtime.Intrinsics.X86;
using FastTun.Packets.Headers;

namespace FastTun.Packets.Datapath;

public sealed partial class Pipeline
{
    /// <summary>
    /// Pass 3: local delivery or forwarding of pass 1's <paramref name="count"/> packets, in arrival order; decapsulated
    /// packets are queued for pass 4. It works from pass 1's copies of each header's source and TTL word, so a packet
    /// that leaves by the fast path is only written here, never read (its line may have left the L1 since pass 1).
    /// Two verdicts are kept in locals for the pass, each exactly the one the per-packet code would reach again:
    /// the last source that passed the source check (same address and port, same route snapshot), and the last
    /// gateway next hop that <see cref="TryForwardFast"/> sent out of a port (its port, MTU and the neighbour entry
    /// the one-entry cache held; the entry's MAC and state are still read per packet). The hop is forgotten whenever
    /// the general path runs, since that may change the cached neighbour. Returns how many frames left by the
    /// port fast path: when that is every rx frame, no later pass touches them.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private unsafe int RoutePass(Span<Frame> frames, int count)
    {
        if ((uint)count > (uint)_routeItems.Length) throw new ArgumentOutOfRangeException(nameof(count));
        ref Frame frame0 = ref MemoryMarshal.GetReference(frames);
        int frameCount = frames.Length;
        ref RouteItem item0 = ref MemoryMarshal.GetArrayDataReference(_routeItems);
        ref uint hop = ref MemoryMarshal.GetArrayDataReference(_hop);
        // The source and port that last passed the source check, as one key; NoSource never equals a key.
        const ulong NoSource = ulong.MaxValue;
        ulong okSource = NoSource;
        // The cached gateway hop; none while cachedEntry is null (uint.MaxValue is a hop index too: Lpm4Table.NoRoute).
        uint cachedHop = 0;
        int cachedMtu = 0;
        ushort cachedPort = 0;
        ulong cachedSourceAndType = 0;
        NeighborEntry? cachedEntry = null;
        int portForwarded = 0;
        for (int k = 0; k < count; k++)
        {
            ref RouteItem item = ref Unsafe.Add(ref item0, k);
            int i = item.Frame;
            if ((uint)i >= (uint)frameCount) continue; // pass 1 wrote it below the batch's count: never taken
            PrefetchRouted(ref frame0, ref item0, k + RoutePrefetchAhead, count, frameCount);
            ref Frame f = ref Unsafe.Add(ref frame0, i);
            // edge hook (SourceCheck): martian sources and rp-filter, once per packet received from a port.
            uint source = item.Source;
            ulong sourceKey = ((ulong)f.InPort << 32) | source;
            if (sourceKey != okSource)
            {
                if (!SourceAllowed(ref f, source, null)) continue;
                okSource = sourceKey;
            }
            uint hopIndex = Unsafe.Add(ref hop, k);
            uint ttlWord = item.TtlWord;
            if (cachedEntry is not null && hopIndex == cachedHop && IncrementalChecksum.TtlOfWord(ttlWord) > 1 && f.Length <= cachedMtu && f.Offset >= 14
                && cachedEntry.TryGetUsable(out ulong mac, out var state) && state != NeighborState.Stale)
            {
                byte* ip = (byte*)f.Buffer + f.Offset;
                Unsafe.WriteUnaligned(ip + Ipv4Header.TtlOffset, IncrementalChecksum.DecrementTtlWord(ttlWord));
                WriteEthernet(ref f, mac, cachedSourceAndType);
                f.OutPort = cachedPort;
                portForwarded++;
                continue;
            }
            if (TryForwardFast(ref f, hopIndex, i, ttlWord))
            {
                if (f.OutPort == PacketBatch.NoPort) continue; // queued for encapsulation (pass 5)
                portForwarded++;
                // A port hop: TryForwardFast checked it against the one-entry neighbour cache. A gateway hop's
                // neighbour does not depend on the packet, so the next packet to it takes the checks above.
                NextHop[] hops = _hops;
                if (hopIndex < (uint)hops.Length && hops[hopIndex].Kind == NextHopKind.Gateway)
                {
                    ushort portId = hops[hopIndex].Port;
                    PortInfo port = _s.Ports[portId];
                    cachedHop = hopIndex;
                    cachedMtu = port.Mtu;
                    cachedPort = portId;
                    cachedSourceAndType = port.SourceAndType;
                    cachedEntry = _lastNeighbor;
                }
                continue;
            }
            if (TryDecapFast(ref k, count, hopIndex)) continue; // decap (dec5): a run from k on
            cachedEntry = null; // the general path may change the cached neighbour
            _anchor = i + 1;
            _rxItem = i; // QueueEncap's name for the frame, without searching for it
            Route(ref f, hopIndex, i);
        }
        _rxItem = -1;
        return portForwarded;
    }

    /// <summary>How many packets ahead pass 3 asks for a packet's header line. The header lines of a batch's frames
    /// share two L1 sets (2 KiB buffers, same headroom: 16 lines), so most of them have left the L1 since pass 1 read
    /// them; asked for this far ahead they are back (from the L2) when pass 3 writes them.</summary>
    private const int RoutePrefetchAhead = 6;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void PrefetchRouted(ref Frame frame0, ref RouteItem item0, int k, int count, int frameCount)
    {
        if (!Sse.IsSupported || k >= count) return;
        int i = Unsafe.Add(ref item0, k).Frame;
        if ((uint)i >= (uint)frameCount) return;
        ref Frame f = ref Unsafe.Add(ref frame0, i);
        Sse.Prefetch0((byte*)f.Buffer + f.Offset);
    }

    /// <summary>What pass 1 keeps of a routed packet for pass 3: its rx frame index, its source address and its
    /// header bytes 8–11 (TTL, protocol, checksum) as read, and (with the decap prefetch on) its tunnel-table home slot.</summary>
    private struct RouteItem
    {
        public int Frame;
        public uint Source;
        public uint TtlWord;
        /// <summary>The home slot of an IPIP/GRE packet's tunnel key in <see cref="_prefetchSlots"/> (hub7c), −1 for
        /// another packet; written only while the decap prefetch is on. Only a hint: pass 3 loads that slot without
        /// waiting for the packet's header and takes it when it holds the packet's full key (keys are unique).</summary>
        public int TunnelSlot;
    }
}
