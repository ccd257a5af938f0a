using FastTun.Packets.Headers;
using System.Runtime.CompilerServices;

namespace FastTun.Packets.Routing;

/// <summary>
/// IPv4 longest-prefix-match table: prefixes /0–/32 → next-hop index (0..<see cref="MaxNextHop"/>), one writer,
/// any number of lock-free readers.
///
/// <para><b>Design: Poptrie-style, 2^18 direct index + popcount-compressed 6-bit nodes, one managed chunk per /18.</b>
/// The top 18 address bits index two flat arrays: <c>_direct</c> (uint, the answer of the longest prefix ≤ /18 —
/// a prefix of /18 or shorter is "painted" over the 2^(18−len) entries it covers) and <c>_chunks</c> (a reference
/// per /18, null unless that /18 holds a prefix longer than /18). A chunk is one immutable <c>uint[]</c> holding a
/// small Poptrie: nodes of 6 uints (64-bit child bitmap, 64-bit leaf-run bitmap, child base, leaf base) over 6-bit
/// strides (bits 18–23, 24–29, 30–31), children and leaves stored contiguously so a child or leaf is found by
/// <c>base + PopCount(bitmap &amp; bits-up-to-v)</c>. Equal neighbouring leaves collapse into one (leaf compression).
/// A /24 is therefore direct → one node → leaf: 3 dependent loads, about 11–13 MiB for the 1M-prefix table.</para>
///
/// <para><b>Why not the others.</b> DIR-24-8 (rte_lpm) needs a 64 MiB top array — 4× the memory budget and a
/// cache/TLB miss per lookup in a dependent chain. DIR-16-8-8 needs 256 KiB + a 256-entry block per /16 and per
/// /24 with specifics (tens of MiB for 1M prefixes). DXR is as compact but its range search is a binary search
/// (log2 of the ranges per chunk dependent loads) and its updates rebuild a whole chunk too. Poptrie's bitmap
/// nodes keep a /18's specifics in a few cache lines and answer in a fixed, shallow number of loads; /18 chunks
/// make an update rebuild at most one /18 (typically under a few hundred bytes).</para>
///
/// <para><b>Concurrency and memory safety.</b> Readers never lock. The writer never modifies a published chunk:
/// it builds a new <c>uint[]</c>, fills it completely, then publishes it with one <c>Volatile.Write</c> of the
/// reference into <c>_chunks[i]</c>. Short prefixes change <c>_direct</c> entries with single aligned 32-bit
/// stores. A reader therefore sees, for each address, either the old or the new chunk/entry, never a torn one.
/// Reclamation is the GC's job: a replaced chunk stays alive while any reader still holds its reference, so no
/// epoch/QSBR scheme is needed (native memory would need one; managed arrays give it for free at the cost of one
/// object header, 24 bytes, per chunk). Chunk leaves that no longer-than-/18 prefix covers hold the sentinel
/// <c>DeferToDirect</c> and are answered from <c>_direct</c>, so changing a short prefix (even /0) never
/// rebuilds chunks — at most 2^18 direct entries are rewritten.</para>
///
/// <para><b>Control plane.</b> The authoritative route set is kept apart from the lookup arrays: short prefixes in
/// a dictionary plus the painted length per direct entry, long prefixes in a sorted (address, length) list per
/// /18. An update touches one list and rebuilds one chunk from it; <see cref="AddRange"/> defers chunk builds to
/// the end so a 1M-prefix load builds each chunk once.</para>
/// </summary>
public sealed partial class Lpm4Table
{
    /// <summary>Lookup answer when no prefix covers the address.</summary>
    public const uint NoRoute = uint.MaxValue;
    /// <summary>Largest storable next-hop index (2^32 − 3 distinct next hops).</summary>
    public const uint MaxNextHop = 0xFFFF_FFFD;
    /// <summary>Chunk leaf meaning "no prefix longer than /18 covers this; answer from the direct entry".</summary>
    internal const uint DeferToDirect = 0xFFFF_FFFE;
    internal const int DirectBits = 18;
    internal const int DirectSize = 1 << DirectBits;
    internal const int ChunkShift = 32 - DirectBits;

    // Data plane: read by any thread without locks.
    private readonly uint[] _direct = new uint[DirectSize];
    private readonly uint[]?[] _chunks = new uint[]?[DirectSize];

    // Control plane: touched by the single writer only.
    private readonly byte[] _directLength = new byte[DirectSize];   // 1 + length painted there; 0 = no prefix
    private readonly Dictionary<ulong, uint> _short = new();           // (length << 32 | prefix) → next hop, length ≤ 18
    private readonly ChunkRoutes?[] _long = new ChunkRoutes?[DirectSize];
    private readonly ChunkBuilder _builder = new();
    private readonly List<int> _dirty = new();
    private readonly bool[] _isDirty = new bool[DirectSize];
    private bool _deferBuilds;
    private long _chunkBytes;
    private int _chunkCount;

    public Lpm4Table() => _direct.AsSpan().Fill(NoRoute);

    /// <summary>Number of distinct prefixes in the table.</summary>
    public int Count { get; private set; }

    /// <summary>
    /// Bytes of the lookup structure (direct array, chunk reference array, chunk arrays with their object
    /// headers) — what readers touch. The writer's route set is reported by <see cref="ControlMemoryBytes"/>.
    /// </summary>
    public long MemoryBytes => (long)DirectSize * sizeof(uint) + (long)DirectSize * IntPtr.Size + _chunkBytes;

    /// <summary>Number of /18s that currently hold a chunk.</summary>
    public int ChunkCount => _chunkCount;

    /// <summary>Approximate bytes of the writer-only route set (not read on the lookup path).</summary>
    public long ControlMemoryBytes
    {
        get
        {
            long bytes = DirectSize * (1L + IntPtr.Size + 1) + _short.Count * 24L;
            foreach (ChunkRoutes? c in _long)
                if (c is not null) bytes += 48 + c.Keys.Length * 12L;
            return bytes;
        }
    }

    /// <summary>A reader over the live table; take one per batch and use it for the whole batch.</summary>
    public Lpm4Reader GetReader() => new(_direct, _chunks);

    /// <summary>Longest-prefix match; <see cref="NoRoute"/> when no prefix covers the address.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Lookup(uint address) => new Lpm4Reader(_direct, _chunks).Lookup(address);

    /// <summary>Batch lookup: nextHops[i] = Lookup(addresses[i]); independent lookups overlap.</summary>
    public void LookupBatch(ReadOnlySpan<uint> addresses, Span<uint> nextHops) =>
        new Lpm4Reader(_direct, _chunks).LookupBatch(addresses, nextHops);

    /// <summary>Exact-match query of the route set (control plane).</summary>
    public bool TryGet(uint prefix, int length, out uint nextHop)
    {
        Validate(prefix, length);
        if (length <= DirectBits) return _short.TryGetValue(Key(prefix, length), out nextHop);
        ChunkRoutes? routes = _long[prefix >> ChunkShift];
        int at = routes is null ? -1 : routes.IndexOf(LongKey(prefix, length));
        nextHop = at >= 0 ? routes!.Values[at] : NoRoute;
        return at >= 0;
    }

    /// <summary>Adds the route or replaces its next hop; returns true when the prefix was new. Writer only.</summary>
    public bool AddOrReplace(uint prefix, int length, uint nextHop)
    {
        Validate(prefix, length);
        if (nextHop > MaxNextHop) throw new ArgumentOutOfRangeException(nameof(nextHop), "next hop above MaxNextHop");
        bool added = length <= DirectBits ? SetShort(prefix, length, nextHop) : SetLong(prefix, length, nextHop);
        if (added) Count++;
        return added;
    }

    /// <summary>Adds or replaces every route, building each touched chunk once at the end. Writer only.</summary>
    public void AddRange(ReadOnlySpan<Route4> routes)
    {
        foreach (Route4 r in routes)
            if (!r.IsValid) throw new ArgumentException($"invalid route {r}", nameof(routes));
        _deferBuilds = true;
        try
        {
            foreach (Route4 r in routes) AddOrReplace(r.Prefix, r.Length, r.NextHop);
        }
        finally
        {
            _deferBuilds = false;
            foreach (int chunk in _dirty)
            {
                _isDirty[chunk] = false;
                Rebuild(chunk);
            }
            _dirty.Clear();
        }
    }

    /// <summary>Builds a table from a route list (later duplicates replace earlier ones).</summary>
    public static Lpm4Table Build(ReadOnlySpan<Route4> routes)
    {
        var table = new Lpm4Table();
        table.AddRange(routes);
        return table;
    }

    /// <summary>Removes the route; returns false when it was not present. Writer only.</summary>
    public bool Delete(uint prefix, int length)
    {
        Validate(prefix, length);
        bool removed = length <= DirectBits ? DeleteShort(prefix, length) : DeleteLong(prefix, length);
        if (removed) Count--;
        return removed;
    }

    private bool SetShort(uint prefix, int length, uint nextHop)
    {
        ulong key = Key(prefix, length);
        bool added = !_short.ContainsKey(key);
        _short[key] = nextHop;
        // A new prefix takes every entry whose current best is no longer than itself; a replaced one only the
        // entries it already owns (same test, since nothing else of equal length covers them).
        Paint(prefix, length, nextHop, (byte)(length + 1), ownerAtMost: (byte)(length + 1));
        return added;
    }

    private bool DeleteShort(uint prefix, int length)
    {
        if (!_short.Remove(Key(prefix, length))) return false;
        // Entries this prefix owned fall back to the longest shorter prefix that covers it (the same one for
        // the whole range, because the range lies inside this prefix).
        uint fallback = NoRoute;
        byte fallbackLength = 0;
        for (int l = length - 1; l >= 0; l--)
        {
            if (_short.TryGetValue(Key(prefix & Route4.Mask(l), l), out uint nh))
            {
                fallback = nh;
                fallbackLength = (byte)(l + 1);
                break;
            }
        }
        int start = (int)(prefix >> ChunkShift), count = 1 << (DirectBits - length);
        byte own = (byte)(length + 1);
        for (int e = start; e < start + count; e++)
        {
            if (_directLength[e] != own) continue;
            _directLength[e] = fallbackLength;
            // Single aligned 32-bit store: a reader sees the old or the new next hop. No ordering is needed
            // against other entries; each address depends on exactly one direct entry.
            Volatile.Write(ref _direct[e], fallback);
        }
        return true;
    }

    private void Paint(uint prefix, int length, uint nextHop, byte own, byte ownerAtMost)
    {
        int start = (int)(prefix >> ChunkShift), count = 1 << (DirectBits - length);
        for (int e = start; e < start + count; e++)
        {
            if (_directLength[e] > ownerAtMost) continue;   // a longer short prefix owns this entry
            _directLength[e] = own;
            // Single aligned 32-bit store; see DeleteShort.
            Volatile.Write(ref _direct[e], nextHop);
        }
    }

    private bool SetLong(uint prefix, int length, uint nextHop)
    {
        int chunk = (int)(prefix >> ChunkShift);
        ChunkRoutes routes = _long[chunk] ??= new ChunkRoutes();
        bool added = routes.Upsert(LongKey(prefix, length), nextHop);
        Changed(chunk);
        return added;
    }

    private bool DeleteLong(uint prefix, int length)
    {
        int chunk = (int)(prefix >> ChunkShift);
        ChunkRoutes? routes = _long[chunk];
        if (routes is null || !routes.Remove(LongKey(prefix, length))) return false;
        if (routes.Count == 0) _long[chunk] = null;
        Changed(chunk);
        return true;
    }

    private void Changed(int chunk)
    {
        if (!_deferBuilds)
        {
            Rebuild(chunk);
        }
        else if (!_isDirty[chunk])
        {
            _isDirty[chunk] = true;
            _dirty.Add(chunk);
        }
    }

    private void Rebuild(int chunk)
    {
        ChunkRoutes? routes = _long[chunk];
        uint[]? built = routes is null ? null : _builder.Build(routes.Keys, routes.Values, routes.Count);
        uint[]? old = _chunks[chunk];
        if (old is not null) { _chunkBytes -= ChunkBytes(old); _chunkCount--; }
        if (built is not null) { _chunkBytes += ChunkBytes(built); _chunkCount++; }
        // Release: every element of `built` was written by the builder before this store, so a reader that
        // loads the reference (Lpm4Reader, a data-dependent load) sees a complete chunk. The old chunk stays
        // valid for readers still holding it until the GC proves nobody does.
        Volatile.Write(ref _chunks[chunk], built);
    }

    /// <summary>Array object header + length word + payload, rounded to 8 bytes (64-bit runtime layout).</summary>
    private static long ChunkBytes(uint[] chunk) => (16 + 8 + chunk.Length * 4L + 7) & ~7L;

    private static ulong Key(uint prefix, int length) => ((ulong)length << 32) | prefix;

    /// <summary>Sort key (address, then length): a covering prefix always sorts before what it covers.</summary>
    internal static ulong LongKey(uint prefix, int length) => ((ulong)prefix << 8) | (uint)length;

    private static void Validate(uint prefix, int length)
    {
        if (length is < 0 or > 32) throw new ArgumentOutOfRangeException(nameof(length), "length must be 0..32");
        if ((prefix & ~Route4.Mask(length)) != 0)
            throw new ArgumentException($"{Ipv4Address.Format(prefix)}/{length} has host bits set", nameof(prefix));
    }
}
