namespace FastTun.Packets.Datapath;

public enum NeighborState : byte
{
    /// <summary>An ARP request is out; packets wait in the worker's pending queue.</summary>
    Incomplete,
    /// <summary>Confirmed by a reply within <see cref="NeighborTable.ReachableMs"/>.</summary>
    Reachable,
    /// <summary>Older than the reachable time: still used, and re-probed when used.</summary>
    Stale,
    /// <summary>No answer after <see cref="NeighborTable.MaxProbes"/> requests; packets to it are dropped.</summary>
    Failed,
    /// <summary>Configured; never ages.</summary>
    Static,
}

/// <summary>
/// One (port, IPv4 address) → MAC binding. The MAC and the state are packed into one 64-bit word so a reader
/// sees both from the same update: bits 0–47 MAC (first octet in bits 40–47), bits 48–55 state.
/// </summary>
public sealed class NeighborEntry
{
    private long _word;
    private long _updatedMs;
    private long _probeDueMs;

    internal NeighborEntry(ushort port, uint ip)
    {
        Port = port;
        Ip = ip;
    }

    public ushort Port { get; }
    public uint Ip { get; }

    /// <summary>Volatile: pairs with the Volatile.Write in <see cref="Set"/> so mac and state are read together.</summary>
    public NeighborState State => (NeighborState)(byte)(Volatile.Read(ref _word) >> 48);
    public ulong Mac => (ulong)Volatile.Read(ref _word) & 0xFFFF_FFFF_FFFFUL;
    public long UpdatedMs => Volatile.Read(ref _updatedMs);
    /// <summary>ARP requests sent since the last confirmation.</summary>
    public int Probes { get; internal set; }

    internal long ProbeDueMs
    {
        get => Volatile.Read(ref _probeDueMs);
        set => Volatile.Write(ref _probeDueMs, value); // read by the worker that probes; any worker may arm it
    }

    internal void Set(NeighborState state, ulong mac, long nowMs)
    {
        // Release: a reader that sees the new word also sees the timestamp written just before it.
        Volatile.Write(ref _updatedMs, nowMs);
        Volatile.Write(ref _word, (long)((mac & 0xFFFF_FFFF_FFFFUL) | ((ulong)state << 48)));
    }

    /// <summary>Reads mac and state from one load.</summary>
    public bool TryGetUsable(out ulong mac, out NeighborState state)
    {
        long w = Volatile.Read(ref _word); // one load: mac and state come from the same Set
        state = (NeighborState)(byte)(w >> 48);
        mac = (ulong)w & 0xFFFF_FFFF_FFFFUL;
        return state is NeighborState.Reachable or NeighborState.Stale or NeighborState.Static;
    }

    public static string FormatMac(ulong mac) => string.Create(17, mac, static (span, m) =>
    {
        const string hex = "0123456789abcdef";
        for (int i = 0; i < 6; i++)
        {
            byte b = (byte)(m >> (40 - 8 * i));
            span[i * 3] = hex[b >> 4];
            span[i * 3 + 1] = hex[b & 0xF];
            if (i < 5) span[i * 3 + 2] = ':';
        }
    });

    public static bool TryParseMac(string text, out ulong mac)
    {
        mac = 0;
        var parts = text.Split(':');
        if (parts.Length != 6) return false;
        foreach (var p in parts)
        {
            if (p.Length is < 1 or > 2 || !byte.TryParse(p, System.Globalization.NumberStyles.HexNumber, null, out byte b)) return false;
            mac = (mac << 8) | b;
        }
        return true;
    }

    public static ulong ReadMac(ReadOnlySpan<byte> six) =>
        ((ulong)six[0] << 40) | ((ulong)six[1] << 32) | ((ulong)six[2] << 24) | ((ulong)six[3] << 16) | ((ulong)six[4] << 8) | six[5];

    public static void WriteMac(ulong mac, Span<byte> six)
    {
        six[0] = (byte)(mac >> 40); six[1] = (byte)(mac >> 32); six[2] = (byte)(mac >> 24);
        six[3] = (byte)(mac >> 16); six[4] = (byte)(mac >> 8); six[5] = (byte)mac;
    }
}

/// <summary>
/// The ARP cache. Readers (workers) never lock: they probe an open-addressing array that the writer replaces
/// copy-on-write when a new key is inserted; existing entries change in place through
/// <see cref="NeighborEntry"/>'s packed word. Inserts and removals (rare: a new neighbour, aging, the control
/// plane) take a lock. Bounded: at most <see cref="Capacity"/> entries; when full, stale and failed entries are
/// evicted first and a new neighbour is refused (counted by the caller) if none can go.
/// </summary>
public sealed class NeighborTable
{
    public const long ReachableMs = 30_000;
    public const long RetransMs = 1_000;
    public const int MaxProbes = 3;
    /// <summary>How long a failed entry stays (it blocks new probes for the address meanwhile).</summary>
    public const long FailedHoldMs = 20_000;
    /// <summary>Unused stale entries are removed after this.</summary>
    public const long GcStaleMs = 60_000;

    private readonly object _writeLock = new();
    private NeighborEntry?[] _slots;
    private int _count;
    private int _generation;

    public NeighborTable(int capacity = 4096)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity));
        Capacity = capacity;
        _slots = new NeighborEntry?[(int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)capacity * 2)];
    }

    public int Capacity { get; }
    public int Count => Volatile.Read(ref _count);
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
            int before = _count;
            RebuildLocked(e => !Expired(e, nowMs));
            return before - _count;
        }
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
        NeighborEntry? victim = null;
        foreach (var e in _slots)
        {
            if (e is null || e.State is NeighborState.Static or NeighborState.Reachable or NeighborState.Incomplete) continue;
            if (victim is null || e.UpdatedMs < victim.UpdatedMs) victim = e;
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

    private void RebuildLocked(Func<NeighborEntry, bool> keep)
    {
        var fresh = new NeighborEntry?[_slots.Length];
        int n = 0;
        foreach (var e in _slots)
        {
            if (e is null || !keep(e)) continue;
            Place(fresh, e);
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
