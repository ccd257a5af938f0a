namespace FastTun.Packets.Datapath;

/// <summary>
/// The ARP cache. Readers (workers) never lock: they probe an open-addressing array that the writer replaces
/// copy-on-write when a new key is inserted; existing entries change in place through
/// <see cref="NeighborEntry"/>'s packed word. Inserts and removals (rare: a new neighbour, aging, the control
/// plane) take a lock. Bounded: at most <see cref="Capacity"/> entries; when full, stale and failed entries are
/// evicted first and a new neighbour is refused (counted by the caller) if none can go.
///
/// Strangers cannot fill it: ARP creates an entry only for a request aimed at us from a sender on a connected
/// subnet of the receiving port (<see cref="SetConnected"/>), such learned entries are capped per port and evict
/// each other least-recently-confirmed first, and they never displace an entry the data path uses.
/// </summary>
public sealed class NeighborTable
{
    public const long ReachableMs = 30_000;
    public const long RetransMs = 1_000;
    public const int MaxProbes = 3;
    /// <summary>How long an unused failed entry stays. A packet for it restarts resolution (<see cref="RestartFailed"/>).</summary>
    public const long FailedHoldMs = 20_000;
    /// <summary>Unused stale entries are removed after this.</summary>
    public const long GcStaleMs = 60_000;

    private readonly object _writeLock = new();
    private NeighborEntry?[] _slots;
    private int _count;
    // Per port: (network, mask) pairs of its connected subnets. Replaced whole by SetConnected.
    private (uint Network, uint Mask)[][] _connected = [];
    private long _ignoredOffSubnet;
    private long _learnedEvicted;
    private int _generation;

    public NeighborTable(int capacity = 4096, int learnedPerPort = 256)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity));
        if (learnedPerPort < 1) throw new ArgumentOutOfRangeException(nameof(learnedPerPort));
        Capacity = capacity;
        LearnedPerPort = Math.Min(learnedPerPort, capacity);
        _slots = new NeighborEntry?[(int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)capacity * 2)];
    }

    public int Capacity { get; }
    /// <summary>At most this many <see cref="NeighborOrigin.Learned"/> entries per port.</summary>
    public int LearnedPerPort { get; }
    public int Count => Volatile.Read(ref _count);
    /// <summary>ARP requests aimed at us whose sender is on no connected subnet of the receiving port.</summary>
    public long IgnoredOffSubnet => Interlocked.Read(ref _ignoredOffSubnet);
    /// <summary>Learned entries pushed out by newer learned entries on the same port.</summary>
    public long LearnedEvicted => Interlocked.Read(ref _learnedEvicted);

    /// <summary>Control plane: the connected subnets of every port (port id, network, prefix length), replacing
    /// the previous set. ARP learns only senders inside one of the receiving port's subnets.</summary>
    public void SetConnected(IEnumerable<(ushort Port, uint Network, int Length)> subnets)
    {
        var byPort = new List<(uint, uint)>[ushort.MaxValue + 1];
        int ports = 0;
        foreach (var (port, network, length) in subnets)
        {
            if (length is < 0 or > 32) throw new ArgumentOutOfRangeException(nameof(subnets), $"prefix length {length}");
            uint mask = length == 0 ? 0 : uint.MaxValue << (32 - length);
            (byPort[port] ??= []).Add((network & mask, mask));
            ports = Math.Max(ports, port + 1);
        }
        var fresh = new (uint, uint)[ports][];
        for (int p = 0; p < ports; p++) fresh[p] = byPort[p]?.ToArray() ?? [];
        Volatile.Write(ref _connected, fresh); // release: workers see whole arrays
    }

    /// <summary>True when <paramref name="ip"/> lies in a connected subnet of <paramref name="port"/>.</summary>
    public bool IsOnConnectedSubnet(ushort port, uint ip)
    {
        var connected = Volatile.Read(ref _connected); // acquire: pairs with SetConnected
        if (port >= connected.Length) return false;
        foreach (var (network, mask) in connected[port])
            if ((ip & mask) == network) return true;
        return false;
    }
    /// <summary>Changes whenever an entry is added or removed, so workers can drop the entries they cached.</summary>
    public int Generation => Volatile.Read(ref _generation); // pairs with the increments in InsertLocked/RebuildLocked

    private static int Hash(ushort port, uint ip) => (int)((ip * 0x9E3779B1u) ^ ((uint)port * 0x85EBCA6Bu));

    /// <summary>Lock-free lookup. Null when the address has no entry.</summary>
    public NeighborEntry? Find(ushort port, uint ip)
    {
        var slots = Volatile.Read(ref _slots); // acquire: pairs with the Volatile.Write publishing a new array
        int mask = slots.Length - 1;
        for (int i = Hash(port, ip) & mask, n = 0; n < slots.Length; i = (i + 1) & mask, n++)
        {
            var e = slots[i];
            if (e is null) return null;
            if (e.Ip == ip && e.Port == port) return e;
        }
        return null;
    }

    /// <summary>Returns the entry for (port, ip), creating an Incomplete one when absent.
    /// Null only when the table is full of live entries.</summary>
    public NeighborEntry? GetOrCreate(ushort port, uint ip, long nowMs)
    {
        var found = Find(port, ip);
        if (found is not null) return found;
        lock (_writeLock)
        {
            found = Find(port, ip);
            if (found is not null) return found;
            if (_count >= Capacity && !EvictOneLocked(nowMs)) return null;
            var e = new NeighborEntry(port, ip);
            e.Set(NeighborState.Incomplete, 0, nowMs);
            InsertLocked(e);
            return e;
        }
    }

    /// <summary>Lookup for sending: a learned entry the data path sends through becomes a used one, so learned
    /// traffic can no longer evict it. One extra field read per lookup.</summary>
    public NeighborEntry? FindForUse(ushort port, uint ip)
    {
        var e = Find(port, ip);
        if (e is not null && e.Origin == NeighborOrigin.Learned) e.MarkUsed();
        return e;
    }

    /// <summary>
    /// The ARP receive path's one call. Any ARP from a sender we already have an entry for refreshes it (static
    /// entries excepted); a new entry is created only for a request or reply aimed at us
    /// (<paramref name="aimedAtUs"/>) from a sender on a connected subnet of <paramref name="port"/>, as a
    /// <see cref="NeighborOrigin.Learned"/> entry within that port's cap. Sender 0.0.0.0 (an ARP probe) teaches nothing.
    /// </summary>
    public NeighborEntry? LearnFromArp(ushort port, uint sender, ulong senderMac, long nowMs, bool aimedAtUs)
    {
        if (sender == 0) return null;
        var e = Find(port, sender);
        if (e is null)
        {
            if (!aimedAtUs) return null;
            if (!IsOnConnectedSubnet(port, sender))
            {
                Interlocked.Increment(ref _ignoredOffSubnet); // a statistic; orders nothing
                return null;
            }
            e = CreateLearned(port, sender, nowMs);
            if (e is null) return null;
        }
        if (e.State == NeighborState.Static) return e;
        e.Probes = 0;
        e.Set(NeighborState.Reachable, senderMac, nowMs);
        return e;
    }

    private NeighborEntry? CreateLearned(ushort port, uint ip, long nowMs)
    {
        lock (_writeLock)
        {
            var found = Find(port, ip);
            if (found is not null) return found;
            NeighborEntry? lru = null;
            int learned = 0;
            foreach (var s in _slots)
            {
                if (s is null || s.Port != port || s.Origin != NeighborOrigin.Learned) continue;
                learned++;
                if (lru is null || s.UpdatedMs < lru.UpdatedMs) lru = s;
            }
            var e = new NeighborEntry(port, ip, NeighborOrigin.Learned);
            e.Set(NeighborState.Incomplete, 0, nowMs);
            if (learned >= LearnedPerPort || _count >= Capacity)
            {
                // A learned entry only ever displaces a learned one of its own port, never one the data path uses.
                if (lru is null) return null;
                Interlocked.Increment(ref _learnedEvicted); // a statistic; orders nothing
                RebuildLocked(x => !ReferenceEquals(x, lru), e); // one rebuild removes the old and adds the new
                return e;
            }
            InsertLocked(e);
            return e;
        }
    }

    /// <summary>Learns or confirms a binding from ARP. A reply (or a request aimed at us) confirms the entry;
    /// static entries are never overwritten. <paramref name="create"/> false only refreshes an existing entry.</summary>
    public NeighborEntry? Learn(ushort port, uint ip, ulong mac, long nowMs, bool create)
    {
        var e = create ? GetOrCreate(port, ip, nowMs) : Find(port, ip);
        if (e is null || e.State == NeighborState.Static) return e;
        e.Probes = 0;
        e.Set(NeighborState.Reachable, mac, nowMs);
        return e;
    }

    /// <summary>Resolution gave up: packets to this address are dropped until the entry expires.</summary>
    public void MarkFailed(NeighborEntry entry, long nowMs)
    {
        if (entry.State == NeighborState.Incomplete) entry.Set(NeighborState.Failed, 0, nowMs);
    }

    /// <summary>A packet for a failed neighbour starts resolution again, as Linux's neigh_event_send does from
    /// NUD_FAILED, so a peer that comes back is found by the next packet (a tunnel whose keepalive brings it up
    /// again must not wait for the failed entry to expire). At most once per <see cref="RetransMs"/>: a flood
    /// towards a dead neighbour costs one ARP request a second, and the packets in between are dropped.</summary>
    public bool RestartFailed(NeighborEntry entry, long nowMs)
    {
        if (entry.State != NeighborState.Failed || nowMs - entry.UpdatedMs < RetransMs) return false;
        entry.Probes = 0;
        entry.ProbeDueMs = nowMs;
        entry.Set(NeighborState.Incomplete, 0, nowMs);
        return true;
    }

    public void AddStatic(ushort port, uint ip, ulong mac, long nowMs)
    {
        lock (_writeLock)
        {
            var e = Find(port, ip);
            if (e is null)
            {
                if (_count >= Capacity && !EvictOneLocked(nowMs))
                    throw new InvalidOperationException($"neighbour table full ({Capacity} entries)");
                e = new NeighborEntry(port, ip);
                InsertLocked(e);
            }
            e.Set(NeighborState.Static, mac, nowMs);
        }
    }

    public bool Remove(ushort port, uint ip)
    {
        lock (_writeLock)
        {
            if (Find(port, ip) is null) return false;
            RebuildLocked(e => !(e.Port == port && e.Ip == ip));
            return true;
        }
    }

    /// <summary>Ages entries: Reachable → Stale after <see cref="ReachableMs"/>; Stale removed after
    /// <see cref="GcStaleMs"/>; Failed removed after <see cref="FailedHoldMs"/>. Control-plane timer.</summary>
    public int Age(long nowMs)
    {
        lock (_writeLock)
        {
            foreach (var e in _slots)
            {
                if (e is null) continue;
                if (e.State == NeighborState.Reachable && nowMs - e.UpdatedMs >= ReachableMs)
                    e.Set(NeighborState.Stale, e.Mac, nowMs);
            }
            // Rebuild only when something expires: the timer runs every second, and a copy of the slot array
            // each time (64 KB at the default capacity) was steady garbage for the GC on an idle table.
            int expired = 0;
            foreach (var e in _slots) if (e is not null && Expired(e, nowMs)) expired++;
            if (expired == 0) return 0;
            return RemoveExpiredLocked(nowMs);
        }
    }

    // Its own method: the lambda's closure over nowMs would otherwise be allocated on every Age call.
    private int RemoveExpiredLocked(long nowMs)
    {
        int before = _count;
        RebuildLocked(e => !Expired(e, nowMs));
        return before - _count;
    }

    private static bool Expired(NeighborEntry e, long nowMs) => e.State switch
    {
        NeighborState.Stale => nowMs - e.UpdatedMs >= GcStaleMs,
        NeighborState.Failed => nowMs - e.UpdatedMs >= FailedHoldMs,
        _ => false,
    };

    public List<NeighborEntry> Snapshot()
    {
        var list = new List<NeighborEntry>();
        foreach (var e in Volatile.Read(ref _slots)) if (e is not null) list.Add(e);
        list.Sort((a, b) => a.Port != b.Port ? a.Port.CompareTo(b.Port) : a.Ip.CompareTo(b.Ip));
        return list;
    }

    private bool EvictOneLocked(long nowMs)
    {
        // Learned entries go first (oldest first), then stale or failed ones the data path created.
        NeighborEntry? victim = null;
        foreach (var e in _slots)
        {
            if (e is null || e.Origin != NeighborOrigin.Learned) continue;
            if (victim is null || e.UpdatedMs < victim.UpdatedMs) victim = e;
        }
        if (victim is null)
        {
            foreach (var e in _slots)
            {
                if (e is null || e.State is NeighborState.Static or NeighborState.Reachable or NeighborState.Incomplete) continue;
                if (victim is null || e.UpdatedMs < victim.UpdatedMs) victim = e;
            }
        }
        if (victim is null) return false;
        RebuildLocked(e => !ReferenceEquals(e, victim));
        return true;
    }

    private void InsertLocked(NeighborEntry e)
    {
        var copy = (NeighborEntry?[])_slots.Clone();
        Place(copy, e);
        _count++;
        Volatile.Write(ref _slots, copy); // release: the entry is fully built before readers can find it
        Interlocked.Increment(ref _generation); // after the publish: a worker that sees the new generation finds the entry
    }

    private void RebuildLocked(Func<NeighborEntry, bool> keep, NeighborEntry? add = null)
    {
        var fresh = new NeighborEntry?[_slots.Length];
        int n = 0;
        foreach (var e in _slots)
        {
            if (e is null || !keep(e)) continue;
            Place(fresh, e);
            n++;
        }
        if (add is not null)
        {
            Place(fresh, add);
            n++;
        }
        _count = n;
        Volatile.Write(ref _slots, fresh); // release: readers switch to the compacted array as a whole
        Interlocked.Increment(ref _generation); // after the publish: see InsertLocked
    }

    private static void Place(NeighborEntry?[] slots, NeighborEntry e)
    {
        int mask = slots.Length - 1;
        int i = Hash(e.Port, e.Ip) & mask;
        while (slots[i] is not null) i = (i + 1) & mask;
        slots[i] = e;
    }
}
