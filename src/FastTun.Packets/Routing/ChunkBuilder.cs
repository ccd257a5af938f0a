using System.Numerics;
using System.Runtime.CompilerServices;

namespace FastTun.Packets.Routing;

/// <summary>
/// Builds one immutable chunk (the Poptrie for one /18) from its sorted long-prefix list. Layout, in uints:
/// <code>
/// node  = [childBitsLo, childBitsHi, leafRunBitsLo, leafRunBitsHi, childBase, leafBase]   (NodeSize = 6)
///         child j of a node   = node at childBase + 6 * PopCount(childBits &amp; bitsUpTo(v))   (childBase pre-biased by −6)
///         leaf for slot v     = uint at leafBase + PopCount(leafRunBits &amp; bitsUpTo(v))    (leafBase pre-biased by −1)
/// </code>
/// A node's leaves follow it directly and its children come after them, so the common /24 lookup reads the
/// root node and its leaf from the same or the adjacent cache line. Node 0 (offset 0) covers address bits 18–23, its children bits 24–29, theirs bits 30–31 (the 4 real slots
/// replicated ×16 over the 64, so every level uses the same <c>(addr &lt;&lt; shift) &gt;&gt; 26</c> index). A leaf
/// run starts at a leaf slot whose value differs from the previous leaf slot (child slots are skipped), so
/// runs of equal answers cost one uint. Single-writer; reuses one scratch buffer.
/// </summary>
[SkipLocalsInit]   // the stackalloc'd slot tables are fully written before they are read
internal sealed class ChunkBuilder
{
    internal const int NodeSize = 6;
    internal const int RootShift = Lpm4Table.DirectBits;   // node 0 indexes address bits 18..23
    /// <summary>The root's leaf base (stored biased by −1): its leaves start right after it.</summary>
    internal const uint RootLeafBase = NodeSize - 1;
    private uint[] _buffer = new uint[1024];
    private int _used;

    /// <summary>
    /// True when the last built chunk's root node and its leaves span more than one 64-byte line from the chunk's
    /// start (more than 10 root leaves). <see cref="ChunkPool"/> starts such a chunk on a line, and a smaller chunk
    /// never straddles one, so otherwise one line holds everything a root-level lookup reads.
    /// </summary>
    public bool RootSpansTwoLines { get; private set; }

    /// <summary>
    /// Builds the chunk into a scratch buffer; the span is valid until the next Build. Slots no long prefix covers
    /// answer <paramref name="direct"/> (the /18's answer from prefixes of /18 or shorter), so every leaf is final.
    /// </summary>
    public ReadOnlySpan<uint> Build(ulong[] keys, uint[] values, int count, uint direct)
    {
        _used = NodeSize;
        BuildNode(0, keys, values, 0, count, RootShift, direct);
        if (_buffer[5] != RootLeafBase) throw new InvalidOperationException("the root's leaves must follow it");
        RootSpansTwoLines = NodeSize + BitOperations.PopCount(((ulong)_buffer[3] << 32) | _buffer[2]) > ChunkPool.LineUints;
        return _buffer.AsSpan(0, _used);
    }

    private void BuildNode(int node, ulong[] keys, uint[] values, int from, int to, int shift, uint inherited)
    {
        Span<uint> slot = stackalloc uint[64];
        Span<int> childFrom = stackalloc int[64];
        Span<int> childTo = stackalloc int[64];
        slot.Fill(inherited);
        ulong childBits = 0;
        int paintLimit = shift + 6;   // prefixes up to this length end in this node

        // (address, length) order paints a covering prefix before anything it covers.
        for (int i = from; i < to; i++)
        {
            uint address = (uint)(keys[i] >> 8);
            int length = (int)(keys[i] & 0xFF);
            int v = (int)((address << shift) >> 26);
            if (length <= paintLimit)
            {
                slot.Slice(v, 1 << (paintLimit - length)).Fill(values[i]);
            }
            else
            {
                if ((childBits & (1UL << v)) == 0)
                {
                    childBits |= 1UL << v;
                    childFrom[v] = i;
                }
                childTo[v] = i + 1;
            }
        }

        int children = BitOperations.PopCount(childBits);
        ulong runBits = 0;
        int leafBase = Reserve(64);   // at most 64 leaves; the unused tail is given back below
        Span<uint> leaves = _buffer.AsSpan(leafBase, 64);
        int leafCount = 0;
        bool havePrevious = false;
        uint previous = 0;
        for (int v = 0; v < 64; v++)
        {
            if ((childBits & (1UL << v)) != 0) continue;
            if (havePrevious && slot[v] == previous) continue;
            runBits |= 1UL << v;
            previous = slot[v];
            havePrevious = true;
            leaves[leafCount++] = previous;
        }
        _used = leafBase + leafCount;

        // Children after this node's leaves: the leaves sit next to the node (same or adjacent cache line).
        int childBase = Reserve(children * NodeSize);
        _buffer[node + 0] = (uint)childBits;
        _buffer[node + 1] = (uint)(childBits >> 32);
        _buffer[node + 2] = (uint)runBits;
        _buffer[node + 3] = (uint)(runBits >> 32);
        _buffer[node + 4] = (uint)(childBase - NodeSize);
        _buffer[node + 5] = (uint)(leafBase - 1);

        int child = childBase;
        for (ulong bits = childBits; bits != 0; bits &= bits - 1)
        {
            int v = BitOperations.TrailingZeroCount(bits);
            BuildNode(child, keys, values, childFrom[v], childTo[v], shift + 6, slot[v]);
            child += NodeSize;
        }
    }

    private int Reserve(int count)
    {
        int at = _used;
        if (_used + count > _buffer.Length) Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _used + count));
        _used += count;
        return at;
    }
}
