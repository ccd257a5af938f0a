using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace FastTun.Packets.Routing;

/// <summary>
/// Builds one immutable chunk (the Poptrie for one /17) from its sorted long-prefix list. Layout, in uints:
/// <code>
/// root  = [childBits (128 bits: 4 uints), leafRunBits (128 bits: 4 uints)]                     (RootNodeSize = 8)
///         over address bits 17–23 (v = 0..127); its leaves start right after it (uint 8), its children right
///         after its leaves (uint 8 + number of root leaves: no base stored, the rare child walk counts it)
/// node  = [childBitsLo, childBitsHi, leafRunBitsLo, leafRunBitsHi, childBase, leafBase]   (NodeSize = 6)
///         child j of a node   = node at childBase + 6 * PopCount(childBits &amp; bitsUpTo(v))   (childBase pre-biased by −6)
///         leaf for slot v     = uint at leafBase + PopCount(leafRunBits &amp; bitsUpTo(v))    (leafBase pre-biased by −1)
/// </code>
/// The root's 128-bit bitmaps are two 64-bit words each; slot v's rank is the popcount of word v / 64 up to v plus,
/// for the upper word, the whole lower word. A node's leaves follow it directly and its children come after them,
/// so the common /24 lookup reads the root and its leaf from the chunk's first lines (the entry says how many, up
/// to three, so a lookup prefetches them together). The root's children cover bits 24–29, theirs bits 30–31 (the
/// 4 real slots replicated ×16 over the 64, so every 6-bit level uses the same <c>(addr &lt;&lt; shift) &gt;&gt; 26</c>
/// index). A leaf run starts at a leaf slot whose value differs from the previous leaf slot (child slots are
/// skipped), so runs of equal answers cost one uint. Single-writer; reuses one scratch buffer.
/// </summary>
[SkipLocalsInit]   // the stackalloc'd slot tables are fully written before they are read
internal sealed class ChunkBuilder
{
    internal const int NodeSize = 6;
    internal const int RootBits = 7;
    internal const int RootNodeSize = 8;
    internal const int RootShift = Lpm4Table.DirectBits;   // the root indexes address bits 17..23
    /// <summary>The root's leaf base (biased by −1): its leaves start right after it.</summary>
    internal const uint RootLeafBase = RootNodeSize - 1;
    /// <summary>Most lines of a chunk's start that an entry asks a lookup to prefetch (<see cref="RootExtraLines"/> ≤ 2).</summary>
    internal const int MaxExtraLines = 2;
    private uint[] _buffer = new uint[1024];
    private int _used;

    /// <summary>
    /// Lines after the first that the last built chunk's root node and its leaves reach, at most
    /// <see cref="MaxExtraLines"/> (a chunk of more than 16 uints starts on a line, <see cref="ChunkPool"/>; a
    /// smaller one never straddles one). A lookup prefetches that many more lines with the first.
    /// </summary>
    public int RootExtraLines { get; private set; }

    /// <summary>
    /// Builds the chunk into a scratch buffer; the span is valid until the next Build. Slots no long prefix covers
    /// answer <paramref name="direct"/> (the /17's answer from prefixes of /17 or shorter), so every leaf is final.
    /// </summary>
    public ReadOnlySpan<uint> Build(ulong[] items, int count, uint direct)
    {
        _used = RootNodeSize;
        BuildNode(0, items, 0, count, RootShift, RootBits, direct);
        int rootUints = RootNodeSize + BitOperations.PopCount(RootRunBits(0)) + BitOperations.PopCount(RootRunBits(1));
        RootExtraLines = _used <= ChunkPool.LineUints ? 0 : Math.Min((rootUints - 1) / ChunkPool.LineUints, MaxExtraLines);
        return _buffer.AsSpan(0, _used);
    }

    private ulong RootRunBits(int word) => ((ulong)_buffer[5 + 2 * word] << 32) | _buffer[4 + 2 * word];

    private void BuildNode(int node, ulong[] items, int from, int to, int shift, int bits, uint inherited)
    {
        int slots = 1 << bits;
        // slotBuffer[0] is a sentinel that differs from slot 0, slot v lives at slotBuffer[v + 1]: the run scan below
        // compares every slot with its predecessor eight at a time.
        Span<uint> slotBuffer = stackalloc uint[129];
        Span<uint> slot = slotBuffer.Slice(1, slots);
        Span<int> childFrom = stackalloc int[128];
        Span<int> childTo = stackalloc int[128];
        Span<uint> childInherited = stackalloc uint[128];
        Span<ulong> childBits = stackalloc ulong[2];
        Span<ulong> runBits = stackalloc ulong[2];
        childBits.Clear();
        runBits.Clear();
        ref uint slotRef = ref MemoryMarshal.GetReference(slotBuffer);
        Vector256<uint> fill = Vector256.Create(inherited);
        for (int v = 0; v < slots; v += 8) fill.StoreUnsafe(ref slotRef, (nuint)v + 1);   // inline: no Fill call per node
        int paintLimit = shift + bits;   // prefixes up to this length end in this node

        // (address, length) order paints a covering prefix before anything it covers.
        for (int i = from; i < to; i++)
        {
            ulong item = items[i];
            uint address = ChunkRoutes.Address(item);
            int length = ChunkRoutes.Length(item);
            int v = (int)((address << shift) >> (32 - bits));
            if (length == paintLimit)
            {
                slot[v] = ChunkRoutes.NextHop(item);   // one slot (the common /24 in the root): no Fill call
            }
            else if (length < paintLimit)
            {
                slot.Slice(v, 1 << (paintLimit - length)).Fill(ChunkRoutes.NextHop(item));
            }
            else
            {
                if ((childBits[v >> 6] & (1UL << v)) == 0)
                {
                    childBits[v >> 6] |= 1UL << v;
                    childFrom[v] = i;
                }
                childTo[v] = i + 1;
            }
        }

        // A leaf run starts at a leaf slot whose answer differs from the previous leaf slot's. Each child slot takes
        // its predecessor's answer (its own is kept for the child), so comparing every slot with the slot before it
        // finds the run starts; the first leaf slot always starts one.
        int words = (slots + 63) >> 6;
        for (int w = 0; w < words; w++)
        {
            for (ulong b = childBits[w]; b != 0; b &= b - 1)
            {
                int v = 64 * w + BitOperations.TrailingZeroCount(b);
                childInherited[v] = slot[v];
                if (v > 0) slot[v] = slot[v - 1];
            }
        }
        slotBuffer[0] = ~slot[0];
        for (int v = 0; v < slots; v += 8)
        {
            uint equal = Vector256.Equals(Vector256.LoadUnsafe(ref slotRef, (nuint)v + 1), Vector256.LoadUnsafe(ref slotRef, (nuint)v))
                .ExtractMostSignificantBits();
            runBits[v >> 6] |= (ulong)(~equal & 0xFF) << (v & 63);
        }
        int leafCount = 0;
        for (int w = 0; w < words; w++)
        {
            ulong leafSlots = ~childBits[w] & (slots >= 64 ? ulong.MaxValue : (1UL << slots) - 1);
            runBits[w] &= leafSlots;
            if (leafCount == 0 && leafSlots != 0) runBits[w] |= leafSlots & (0 - leafSlots);   // the first leaf slot
            leafCount += BitOperations.PopCount(runBits[w]);
        }
        int children = BitOperations.PopCount(childBits[0]) + BitOperations.PopCount(childBits[1]);
        int leafBase = Reserve(leafCount);
        int leaf = leafBase;
        for (int w = 0; w < words; w++)
            for (ulong b = runBits[w]; b != 0; b &= b - 1)
                _buffer[leaf++] = slot[64 * w + BitOperations.TrailingZeroCount(b)];

        // Children after this node's leaves: the leaves sit next to the node (same or adjacent cache line).
        int childBase = Reserve(children * NodeSize);
        if (bits == RootBits)
        {
            if (node != 0 || leafBase != RootNodeSize) throw new InvalidOperationException("the root's leaves must follow it");
            for (int w = 0; w < 2; w++)
            {
                _buffer[2 * w] = (uint)childBits[w];
                _buffer[2 * w + 1] = (uint)(childBits[w] >> 32);
                _buffer[4 + 2 * w] = (uint)runBits[w];
                _buffer[5 + 2 * w] = (uint)(runBits[w] >> 32);
            }
            if (childBase != RootNodeSize + leafCount) throw new InvalidOperationException("the root's children must follow its leaves");
        }
        else
        {
            _buffer[node + 0] = (uint)childBits[0];
            _buffer[node + 1] = (uint)(childBits[0] >> 32);
            _buffer[node + 2] = (uint)runBits[0];
            _buffer[node + 3] = (uint)(runBits[0] >> 32);
            _buffer[node + 4] = (uint)(childBase - NodeSize);
            _buffer[node + 5] = (uint)(leafBase - 1);
        }

        int child = childBase;
        for (int w = 0; w < words; w++)
        {
            for (ulong b = childBits[w]; b != 0; b &= b - 1)
            {
                int v = 64 * w + BitOperations.TrailingZeroCount(b);
                BuildNode(child, items, childFrom[v], childTo[v], paintLimit, 6, childInherited[v]);
                child += NodeSize;
            }
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
