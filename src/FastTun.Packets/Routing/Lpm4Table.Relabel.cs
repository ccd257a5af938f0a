using System.Numerics;

namespace FastTun.Packets.Routing;

public sealed partial class Lpm4Table
{
    /// <summary>Chunks republished by <see cref="Relabel"/> rather than built again (tests check the path runs).</summary>
    internal long RelabelledChunks { get; private set; }

    /// <summary>
    /// Republishes /17 number <paramref name="chunk"/> after its direct answer changed from <paramref name="from"/> to
    /// <paramref name="to"/>, when none of its long prefixes answers either: then a leaf holds <paramref name="from"/>
    /// exactly where the direct answer shows through, and no leaf holds <paramref name="to"/>, so the rebuilt chunk
    /// would be the published one with those leaves relabelled (same runs, same sizes, same placement). The copy is
    /// relabelled instead of built again (a /16's change rebuilds two /17s, a /12's 32).
    /// </summary>
    private unsafe void Relabel(int chunk, uint from, uint to)
    {
        ref ChunkState state = ref _state[chunk];
        uint old = state.Entry;
        uint offset = _pool.Allocate(state.Uints);
        uint* copy = _pool.Base + offset;
        new ReadOnlySpan<uint>(_pool.Base + (old & ChunkOffsetMask), state.Uints).CopyTo(new Span<uint>(copy, state.Uints));
        int rootLeaves = BitOperations.PopCount(*(ulong*)copy) + BitOperations.PopCount(*(ulong*)(copy + 2));
        RelabelLeaves(copy, copy + ChunkBuilder.RootNodeSize, rootLeaves, from, to);
        uint entry = ChunkTag + offset + (old & ExtraLinesMask);
        PublishEntry(chunk, entry);   // release, as in Rebuild
        state.Entry = entry;
        _pool.Retire(old & ChunkOffsetMask, state.Uints);
        RelabelledChunks++;
    }

    private static unsafe void RelabelLeaves(uint* chunk, uint* leaves, int count, uint from, uint to)
    {
        for (int i = 0; i < count; i++)
        {
            uint leaf = leaves[i];
            if (leaf == from)
            {
                leaves[i] = to;
            }
            else if (ChunkBuilder.IsChild(leaf))
            {
                uint* node = chunk + (leaf - ChunkTag);
                RelabelLeaves(chunk, node + ChunkBuilder.NodeSize, BitOperations.PopCount(*(ulong*)node), from, to);
            }
        }
    }
}
