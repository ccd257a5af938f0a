namespace FastTun.Packets.Routing;

public sealed partial class Lpm4Table
{
    /// <summary>
    /// Constant chunks: one per next hop that is the whole answer of some /17 (a root with one leaf), shared by every
    /// such /17, with the number of entries naming it. "No route" is the permanent empty chunk at offset 0. Every
    /// entry therefore names a chunk, and a lookup never branches or masks on "direct answer or chunk".
    /// A DFZ-like table has about a thousand next hops: about 32 KiB of constant chunks.
    /// </summary>
    private readonly Dictionary<uint, (uint Offset, int Entries)> _constant = new();

    /// <summary>Number of constant chunks (distinct next hops answering a whole /17).</summary>
    internal int ConstantChunks => _constant.Count;

    /// <summary>The entry naming the constant chunk of <paramref name="nextHop"/>, built on first use. Writer only.</summary>
    private unsafe uint AcquireConstant(uint nextHop)
    {
        if (nextHop == NoRoute) return ChunkTag + EmptyChunk;
        ref (uint Offset, int Entries) slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_constant, nextHop, out bool exists);
        if (!exists)
        {
            ReadOnlySpan<uint> built = _builder.Build([], 0, nextHop);
            slot.Offset = _pool.Allocate(built.Length);
            built.CopyTo(new Span<uint>(_pool.Base + slot.Offset, built.Length));
        }
        slot.Entries++;
        return ChunkTag + slot.Offset;   // a one-leaf root never spans two lines
    }

    /// <summary>
    /// Drops one use of the constant chunk named by <paramref name="entry"/> (an entry just replaced); the last use
    /// retires the chunk under a QSBR token, as a replaced chunk is. Writer only.
    /// </summary>
    private unsafe void ReleaseConstant(uint entry)
    {
        uint offset = entry & ChunkOffsetMask;
        if (offset == EmptyChunk) return;
        uint nextHop = _pool.Base[offset + ChunkBuilder.RootNodeSize];   // the constant chunk's only leaf
        ref (uint Offset, int Entries) slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(_constant, nextHop);
        if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref slot) || slot.Offset != offset)
            throw new InvalidOperationException($"entry {entry:X8} names no constant chunk");
        if (--slot.Entries > 0) return;
        _constant.Remove(nextHop);
        _pool.Retire(offset, ChunkBuilder.RootNodeSize + 1);
    }
}
