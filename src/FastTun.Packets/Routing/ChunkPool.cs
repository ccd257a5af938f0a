namespace FastTun.Packets.Routing;

/// <summary>
/// Allocator for chunks inside a <see cref="NativeRegion"/>, addressed by offsets in uints from its base
/// (the table's first block, at offset 0, is its permanent empty chunk). Blocks are multiples of
/// 16 bytes, placed by cache line (<see cref="Allocate"/>). A bump pointer
/// grows into fresh pages; replaced blocks are retired under a QSBR token and reused only when every online
/// reader has passed a quiescent point since (exact-size free lists: chunk sizes repeat a lot). Single writer.
/// </summary>
internal sealed unsafe class ChunkPool
{
    public const int GranuleUints = 4;
    /// <summary>A 64-byte cache line, in uints.</summary>
    public const int LineUints = 16;
    private const int SmallClasses = 1024;   // blocks up to 16 KiB get an array-indexed free list
    private readonly uint* _base;
    private readonly ulong _capacityUints;
    private readonly Qsbr _readers;
    private readonly Stack<uint>?[] _free = new Stack<uint>?[SmallClasses];
    private readonly Dictionary<int, Stack<uint>> _freeLarge = new();
    private readonly Queue<(ulong Token, uint Offset, int Granules)> _retired = new();
    private ulong _top;
    private int _reclaimAt = ReclaimBatch;   // queue length at which Retire scans the readers again

    public ChunkPool(uint* poolBase, nuint capacityBytes, Qsbr readers)
    {
        _base = poolBase;
        _capacityUints = Math.Min((ulong)capacityBytes / 4, uint.MaxValue);
        _readers = readers;
    }

    /// <summary>Bytes in live blocks (what lookups can reach).</summary>
    public long LiveBytes { get; private set; }
    /// <summary>Bytes below the bump pointer: live + free + retired (what the pool has touched).</summary>
    public long TouchedBytes => (long)_top * 4;
    /// <summary>Blocks waiting for readers to pass a quiescent point.</summary>
    public int RetiredCount => _retired.Count;

    public uint* Base => _base;

    public static int Granules(int uints) => (uints + GranuleUints - 1) / GranuleUints;

    /// <summary>
    /// A block of at least <paramref name="uints"/>, placed by cache line: a block of up to 64 bytes never straddles
    /// a line, a larger one starts on a line (so a chunk's root node and its first leaves share the first line).
    /// The bump pointer's padding goes to the free lists (pieces of 1–3 granules inside one line), and a free list
    /// only ever holds blocks of its own size, so reused blocks keep the placement.
    /// </summary>
    public uint Allocate(int uints)
    {
        int granules = Granules(uints);
        LiveBytes += granules * GranuleUints * 4L;
        Stack<uint>? list = granules < SmallClasses ? _free[granules] : _freeLarge.GetValueOrDefault(granules);
        if (list is { Count: > 0 }) return list.Pop();
        ulong need = (ulong)granules * GranuleUints;
        ulong inLine = _top % LineUints;
        ulong pad = inLine == 0 ? 0 : need <= LineUints ? (inLine + need > LineUints ? LineUints - inLine : 0) : LineUints - inLine;
        if (_top + pad + need > _capacityUints)
            throw new InvalidOperationException($"LPM chunk pool full ({_capacityUints * 4 >> 20} MiB reserved)");
        if (pad > 0)
        {
            FreeList((int)(pad / GranuleUints)).Push((uint)_top);
            _top += pad;
        }
        uint offset = (uint)_top;
        _top += need;
        return offset;
    }

    private Stack<uint> FreeList(int granules) => granules < SmallClasses
        ? _free[granules] ??= new Stack<uint>()
        : _freeLarge.TryGetValue(granules, out Stack<uint>? l) ? l : _freeLarge[granules] = new Stack<uint>();

    /// <summary>
    /// Retired blocks that make the writer scan the readers' slots again (<see cref="Retire"/>). Each scan reads every
    /// online reader's line, which that reader keeps writing (a cross-core miss each); once per block cost as much as
    /// the rest of the pool's work. 32 blocks of a few hundred bytes wait at most one batch longer. The next scan comes
    /// after 32 more retirements, also while a stalled reader holds the queue up.
    /// </summary>
    internal const int ReclaimBatch = 32;

    /// <summary>Call after the block is unpublished (no table entry points to it any more).</summary>
    public void Retire(uint offset, int uints)
    {
        int granules = Granules(uints);
        LiveBytes -= granules * GranuleUints * 4L;
        _retired.Enqueue((_readers.Retire(), offset, granules));
        if (_retired.Count >= _reclaimAt) Reclaim();
    }

    /// <summary>Moves retired blocks that no reader can still hold to the free lists (every <see cref="ReclaimBatch"/> retired blocks, and on demand).</summary>
    public void Reclaim()
    {
        if (_retired.Count > 0)
        {
            ulong oldest = _readers.OldestSeen();
            while (_retired.Count > 0 && _retired.Peek().Token <= oldest)
            {
                (_, uint offset, int granules) = _retired.Dequeue();
                FreeList(granules).Push(offset);
            }
        }
        _reclaimAt = _retired.Count + ReclaimBatch;
    }
}
