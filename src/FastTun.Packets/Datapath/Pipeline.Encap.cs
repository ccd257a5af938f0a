using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Datapath;

/// <summary>
/// Pass 5: encapsulation. Forwarding does not encapsulate a packet on the spot; it queues it with its tunnel and
/// order key. The queue is then run in wire order (by key, so a fragment or an ICMP error built earlier in the
/// batch takes its sequence number in its place), in runs of the same tunnel: the tunnel's fields, its outer
/// path (adjacency) and its neighbour's MAC are loaded once per run, and each packet gets its outer IPv4 (+ GRE)
/// header from the prebuilt template and its Ethernet header from the adjacency: no second route or neighbour
/// lookup for an encapsulated packet.
/// </summary>
public sealed partial class Pipeline
{
    private struct EncapItem
    {
        /// <summary>Index in the rx batch, or ~index in <see cref="Generated"/>.</summary>
        public int Frame;
        public int Key;
        public int Tunnel;
    }

    private readonly EncapItem[] _encap;
    private int _encapCount;
    /// <summary>Rx frames of the current batch that <see cref="EncapRunFast{TShape}"/> sent out of a port (each once):
    /// with pass 3's port fast path, it tells <see cref="Process"/> when every rx frame was forwarded.</summary>
    private int _encapRxForwarded;
    /// <summary>The last queued item's key, and whether some item was queued with a smaller key than the one
    /// before it (then <see cref="RunEncap"/> sorts).</summary>
    private int _encapLastKey = int.MinValue;
    private bool _encapUnsorted;
    /// <summary>While pass 3 routes rx frame i: i (the frame a queued packet most likely is), else −1.</summary>
    private int _rxItem = -1;
    private readonly TunnelHandoff? _handoff;
    private ulong _handedTo;      // owners this worker pushed packets to since it last woke them
    private bool _handoffTaken;   // ring slots taken as frames, released after transmission

    /// <summary>Queues <paramref name="f"/> (an inner packet that fits the tunnel MTU) for encapsulation.</summary>
    private void QueueEncap(ref Frame f, int tunnelIndex)
    {
        int rx = _rxItem;
        int item = rx >= 0 && Unsafe.AreSame(ref f, ref _batch[rx]) ? rx : ItemOf(ref f);
        if (item == int.MinValue || _encapCount == _encap.Length)
        {
            // Not a frame of the batch or of Generated (cannot happen), or the queue is full: encapsulate now.
            EncapOne(ref f, tunnelIndex);
            return;
        }
        ref EncapItem e = ref _encap[_encapCount++];
        int key = _anchor;
        if (key < _encapLastKey) _encapUnsorted = true;
        _encapLastKey = key;
        e.Frame = item;
        e.Key = key;
        e.Tunnel = tunnelIndex;
        f.OutPort = PacketBatch.NoPort;
    }

    /// <summary>The encap queue's name for a frame: its rx batch index, or ~its index in Generated.</summary>
    private int ItemOf(ref Frame f)
    {
        int size = Unsafe.SizeOf<Frame>();
        if (_batch is not null && _batch.Count > 0)
        {
            nint offset = Unsafe.ByteOffset(ref _batch[0], ref f);
            if (offset >= 0 && offset < (nint)_batch.Count * size) return (int)(offset / size);
        }
        if (Generated.Count > 0)
        {
            nint offset = Unsafe.ByteOffset(ref Generated[0], ref f);
            if (offset >= 0 && offset < (nint)Generated.Count * size) return ~(int)(offset / size);
        }
        return int.MinValue;
    }

    private ref Frame FrameOf(int item) => ref item >= 0 ? ref _batch[item] : ref Generated[~item];

    private void RunEncap()
    {
        int count = _encapCount;
        Span<EncapItem> items = _encap.AsSpan(0, count);
        // Stable insertion sort by key: the queue is in key order except for frames built in earlier passes.
        if (_encapUnsorted)
        {
            for (int a = 1; a < count; a++)
            {
                EncapItem item = items[a];
                int b = a - 1;
                while (b >= 0 && items[b].Key > item.Key)
                {
                    items[b + 1] = items[b];
                    b--;
                }
                items[b + 1] = item;
            }
        }
        int start = 0;
        while (start < count)
        {
            int tunnel = items[start].Tunnel;
            int end = start + 1;
            while (end < count && items[end].Tunnel == tunnel) end++;
            EncapRun(items.Slice(start, end - start), tunnel);
            start = end;
        }
        _encapCount = 0;
        _encapLastKey = int.MinValue;
        _encapUnsorted = false;
    }

    /// <summary>Encapsulates one run of packets of the same tunnel and writes their Ethernet headers.</summary>
    private void EncapRun(Span<EncapItem> run, int tunnelIndex)
    {
        var path = _s.Tunnels[tunnelIndex];
        Tunnel tunnel = path.Tunnel;
        if (_handoff is not null && tunnel.Sequenced)
        {
            int owner = TunnelHandoff.OwnerOf(tunnel, Workers);
            if (owner != Worker)
            {
                HandOff(run, tunnel, owner);
                return;
            }
        }
        TunnelAdjacency adjacency = path.Adjacency;
        var tap = _tap;
        int worker = Worker, workers = Workers;
        bool usable = adjacency.Usable;
        // The neighbour's MAC, once per run: one load from the entry the adjacency resolved to (looked up once per
        // state). A run with no usable, non-stale entry sends every packet by the general path (ARP, re-probe).
        bool resolved = false;
        ulong mac = 0;
        if (usable)
        {
            var entry = _tunnelNeighbor[tunnelIndex];
            if (entry is null || !ReferenceEquals(_tunnelNeighborFor[tunnelIndex], adjacency)) entry = FindTunnelNeighbor(tunnelIndex, adjacency);
            resolved = entry is not null && entry.TryGetUsable(out mac, out var state) && state != NeighborState.Stale;
        }
        int portMtu = adjacency.PortMtu;
        ulong sourceAndType = adjacency.SourceAndType;
        ushort port = adjacency.Port;
        // The common case (a resolved neighbour, no capture) goes through EncapRunFast, which stops at the first
        // packet it cannot take; that one goes through the general steps below, and the fast loop resumes after it.
        bool fast = resolved && tap is null;
        for (int r = 0; r < run.Length; r++)
        {
            if (fast)
            {
                r += EncapRunFast(run.Slice(r), tunnel, mac, sourceAndType, portMtu, port);
                if (r >= run.Length) break;
            }
            ref EncapItem item = ref run[r];
            ref Frame f = ref item.Frame >= 0 ? ref _batch[item.Frame] : ref Generated[~item.Frame];
            _anchor = item.Key;
            if (f.Drop != DropReason.None) continue;
            var reason = TunnelEncap.Encapsulate(tunnel, ref f, worker, workers);
            if (reason != DropReason.None) { f.Drop = reason; continue; }
            if (tap is not null) tap.Encapsulated(f.Data, tunnelIndex);
            if (!usable) { f.Drop = DropReason.NoRoute; continue; }
            if (resolved && f.Length <= portMtu && f.Offset >= 14)
            {
                WriteEthernet(ref f, mac, sourceAndType);
                f.OutPort = port;
                continue;
            }
            // Too big for the underlay port, a neighbour to resolve or re-probe, no headroom: the general path.
            SendOnPort(ref f, port, adjacency.Neighbor);
        }
    }

    /// <summary>Copies a run of a sequenced tunnel's inner packets into the ring towards the tunnel's owner, in
    /// order; the frames here are consumed.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void HandOff(Span<EncapItem> run, Tunnel tunnel, int owner)
    {
        var ring = _handoff!.Ring(Worker, owner);
        for (int r = 0; r < run.Length; r++)
        {
            ref Frame f = ref FrameOf(run[r].Frame);
            if (f.Drop != DropReason.None) continue;
            if (!ring.TryPush(f.Data, tunnel, f.InPort)) { f.Drop = DropReason.HandoffFull; continue; }
            f.OutPort = PacketBatch.NoPort;
            Counters.HandedOff++;
            // An rx packet counts as forwarded here, by the worker that received it, as if it had sent it: the
            // owner does not count it again (its drops, if any, it counts).
            if (run[r].Frame >= 0) Counters.Forwarded++;
        }
        _handedTo |= 1UL << owner;
    }

    /// <summary>Owner side: takes what other workers handed over and queues it for encapsulation, ahead of this
    /// batch's packets (key 0).</summary>
    private void TakeHandoffs()
    {
        var handoff = _handoff!;
        for (int from = 0; from < Workers; from++)
        {
            if (from == Worker) continue;
            var ring = handoff.Ring(from, Worker);
            while (!GeneratedFull)
            {
                ref Frame g = ref AddGenerated();
                if (!ring.TryTake(ref g, out var tunnel)) { Generated.Count--; break; }
                _handoffTaken = true;
                int index = TunnelIndexOf(tunnel);
                if (index < 0) { g.Drop = DropReason.NoRoute; continue; } // the tunnel went away in a reload
                QueueEncap(ref g, index);
            }
        }
    }

    private int TunnelIndexOf(Tunnel? tunnel)
    {
        var tunnels = _s.Tunnels;
        for (int t = 0; t < tunnels.Length; t++) if (ReferenceEquals(tunnels[t].Tunnel, tunnel)) return t;
        return -1;
    }

    private void ReleaseHandoffs()
    {
        _handoffTaken = false;
        for (int from = 0; from < Workers; from++)
            if (from != Worker) _handoff!.Ring(from, Worker).ReleaseTaken();
    }

    private void NotifyOwners()
    {
        ulong owners = _handedTo;
        _handedTo = 0;
        while (owners != 0)
        {
            int owner = System.Numerics.BitOperations.TrailingZeroCount(owners);
            owners &= owners - 1;
            _handoff!.NotifyIfSleeping(owner);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private NeighborEntry? FindTunnelNeighbor(int tunnelIndex, TunnelAdjacency adjacency)
    {
        var entry = Neighbors.FindForUse(adjacency.Port, adjacency.Neighbor); // edge hook: a learned entry a tunnel uses is kept
        _tunnelNeighbor[tunnelIndex] = entry;
        _tunnelNeighborFor[tunnelIndex] = adjacency;
        return entry;
    }

    /// <summary>Encapsulates right away (a frame outside the queue's reach): same steps as one run of one.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void EncapOne(ref Frame f, int tunnelIndex)
    {
        var path = _s.Tunnels[tunnelIndex];
        var reason = TunnelEncap.Encapsulate(path.Tunnel, ref f, Worker, Workers);
        if (reason != DropReason.None) { f.Drop = reason; return; }
        if (_tap is not null) _tap.Encapsulated(f.Data, tunnelIndex);
        var adjacency = path.Adjacency;
        if (!adjacency.Usable) { f.Drop = DropReason.NoRoute; return; }
        SendOnPort(ref f, adjacency.Port, adjacency.Neighbor);
    }

    /// <summary>Prepends the Ethernet header: destination MAC, then the adjacency's constant source MAC and
    /// EtherType, as two 8-byte stores (the second overwrites the first's two spare bytes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void WriteEthernet(ref Frame f, ulong mac, ulong sourceAndType)
    {
        f.Offset -= 14;
        f.Length += 14;
        byte* p = (byte*)f.Buffer + f.Offset;
        ulong destination = mac << 16;
        Unsafe.WriteUnaligned(p, BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(destination) : destination);
        Unsafe.WriteUnaligned(p + 6, sourceAndType);
    }
}
