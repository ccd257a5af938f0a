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

/// <summary>Why an entry exists: it decides what may evict it.</summary>
public enum NeighborOrigin : byte
{
    /// <summary>The data path needed it (a next hop, a tunnel's underlay gateway, a connected destination) or a
    /// learned entry was used for sending. Never evicted by a learned entry.</summary>
    Used,
    /// <summary>Created from an ARP request aimed at us by a sender on a connected subnet of the receiving port.
    /// Bounded per port (<see cref="NeighborTable.LearnedPerPort"/>) and evicted least-recently-confirmed first.</summary>
    Learned,
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

    private int _origin;

    internal NeighborEntry(ushort port, uint ip, NeighborOrigin origin = NeighborOrigin.Used)
    {
        Port = port;
        Ip = ip;
        _origin = (int)origin;
    }

    public ushort Port { get; }
    public uint Ip { get; }

    /// <summary>Learned until the data path sends through it; a plain int read, written under the table's lock
    /// or once by a worker (a racing reader sees Learned one lookup longer, which is harmless).</summary>
    public NeighborOrigin Origin => (NeighborOrigin)Volatile.Read(ref _origin);
    internal void MarkUsed() => Volatile.Write(ref _origin, (int)NeighborOrigin.Used); // read by the writer's eviction scan

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
