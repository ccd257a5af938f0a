namespace FastTun.Packets.Datapath;

/// <summary>
/// Packets waiting for ARP, per worker. Bounded in total (<see cref="Capacity"/>) and per neighbour
/// (<see cref="PerNeighbor"/>, like Linux's unres_qlen): beyond that a packet is dropped as
/// NeighborQueueFull. A parked packet lives in a pool frame — rx buffers go back to the port at the end of the
/// batch, so they are copied; frames the pipeline built are moved.
/// </summary>
internal sealed class PendingQueue
{
    public const int Capacity = 256;
    public const int PerNeighbor = 32;

    private readonly Frame[] _frames = new Frame[Capacity];
    private readonly ushort[] _ports = new ushort[Capacity];
    private readonly uint[] _neighbors = new uint[Capacity];
    private int _count;

    public int Count => _count;

    public bool TryPark(ref Frame f, ushort port, uint neighbor, long nowMs, FramePool pool)
    {
        if (_count == Capacity) return false;
        int same = 0;
        for (int i = 0; i < _count; i++) if (_neighbors[i] == neighbor && _ports[i] == port) same++;
        if (same >= PerNeighbor) return false;

        ref Frame slot = ref _frames[_count];
        if ((f.Flags & (FrameFlags.Generated | FrameFlags.Reassembled)) != 0)
        {
            slot = f;                     // move: the generated frame now belongs to the queue
            f.Flags &= ~(FrameFlags.Generated | FrameFlags.Reassembled);
        }
        else
        {
            slot = default;
            if (!pool.TryRent(ref slot)) return false;
            slot.Flags = FrameFlags.Generated;
            if (slot.Tailroom < f.Length) { pool.Return(slot); return false; }
            slot.Length = f.Length;
            f.Data.CopyTo(slot.Data);
            slot.InPort = f.InPort;
        }
        slot.OutPort = PacketBatch.NoPort;
        _ports[_count] = port;
        _neighbors[_count] = neighbor;
        _count++;
        f.OutPort = PacketBatch.NoPort; // consumed; the queue carries it on
        return true;
    }

    /// <summary>Sends what can go, retransmits ARP, drops what waited for a neighbour that failed.</summary>
    public void Service(Pipeline pipeline)
    {
        int kept = 0;
        for (int i = 0; i < _count; i++)
        {
            var entry = pipeline.Neighbors.Find(_ports[i], _neighbors[i]);
            if (entry is not null && entry.TryGetUsable(out _, out _))
            {
                pipeline.ReleaseParked(ref _frames[i], _ports[i], _neighbors[i]);
                continue;
            }
            if (entry is null || entry.State == NeighborState.Failed || !pipeline.ProbeIfDue(entry))
            {
                pipeline.DropParked(ref _frames[i], unreachable: true);
                continue;
            }
            _frames[kept] = _frames[i];
            _ports[kept] = _ports[i];
            _neighbors[kept] = _neighbors[i];
            kept++;
        }
        _count = kept;
    }

    public void Clear(Pipeline pipeline)
    {
        for (int i = 0; i < _count; i++) pipeline.DropParked(ref _frames[i], unreachable: false);
        _count = 0;
    }
}
