using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace FastTun.Packets.Routing;

/// <summary>
/// Builds one immutable chunk (the Poptrie for one /17) from its sorted long-prefix list. Layout, in uints:
/// <code>
/// root  = [leafRunBits (128 bits: 4 uints), leafBase0, leafBase1 (bytes)] [leaves]   (RootNodeSize = 6), bits 17–23
///         leaf for slot v = uint at leafBase(v / 64) / 4 + PopCount(leafRunBits word v / 64 &amp; bitsUpTo(v mod 64))
/// node  = [leafRunBits (64 bits: 2 uints)] [leaves]                   (NodeSize = 2), over 6 address bits
///         leaf for slot v = uint at node + (header − 1) + PopCount(leafRunBits &amp; bitsUpTo(v))
/// </code>
/// Every slot is a leaf. A slot with a longer prefix below it holds a <em>child leaf</em>: <see cref="Lpm4Table.ChunkTag"/>
/// + the offset of its child node in the chunk (<see cref="IsChild"/>; next hops are ≤ <see cref="Lpm4Table.MaxNextHop"/>
/// and <see cref="Lpm4Table.NoRoute"/> is not a valid offset, so the two never mix). So a lookup ranks its slot in one
/// bitmap, reads one leaf and is done unless that leaf is a child (about 1 % on a DFZ table): no child bitmap to test
/// first. The root's 128-bit bitmap is two 64-bit words, each with its own stored leaf base (biased by −1; the upper
/// word's counts the lower word's leaves), so a root rank is one popcount. Each node's children follow its leaves,
/// depth first. The root's children cover bits 24–29, theirs
/// bits 30–31 (the 4 real slots replicated ×16 over the 64, so every 6-bit level uses the same
/// <c>(addr &lt;&lt; shift) &gt;&gt; 26</c> index). A leaf run starts at a slot whose value differs from the previous
/// slot's, so runs of equal answers cost one uint. Single-writer; reuses one scratch buffer.
/// </summary>
[SkipLocalsInit]   // the stackalloc'd slot tables are fully written before they are read
internal sealed class ChunkBuilder
{
    internal const int NodeSize = 2;
    internal const int RootBits = 7;
    internal const int RootNodeSize = 6;
    internal const int RootShift = Lpm4Table.DirectBits;   // the root indexes address bits 17..23
    /// <summary>The root's leaf base (biased by −1): its leaves start right after it.</summary>
    internal const uint RootLeafBase = RootNodeSize - 1;
    /// <summary>A node's leaf base (biased by −1): its leaves start right after its bitmap.</summary>
    internal const uint NodeLeafBase = NodeSize - 1;
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

    /// <summary>A leaf that names a child node (ChunkTag + offset) rather than an answer: ChunkTag ≤ leaf &lt; NoRoute.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool IsChild(uint leaf) => leaf - Lpm4Table.ChunkTag < Lpm4Table.NoRoute - Lpm4Table.ChunkTag;

    /// <summary>
    /// Builds the chunk into a scratch buffer; the span is valid until the next Build. Slots no long prefix covers
    /// answer <paramref name="direct"/> (the /17's answer from prefixes of /17 or shorter).
    /// </summary>
    public ReadOnlySpan<uint> Build(ulong[] items, int count, uint direct)
    {
        _used = 0;
        BuildNode(items, 0, count, RootShift, RootBits, direct);
        int rootUints = RootNodeSize + BitOperations.PopCount(RootRunBits(0)) + BitOperations.PopCount(RootRunBits(1));
        RootExtraLines = _used <= ChunkPool.LineUints ? 0 : Math.Min((rootUints - 1) / ChunkPool.LineUints, MaxExtraLines);
        return _buffer.AsSpan(0, _used);
    }

    private ulong RootRunBits(int word) => ((ulong)_buffer[1 + 2 * word] << 32) | _buffer[2 * word];

    /// <summary>Builds a node (and its children after it) at the end of the buffer; returns its offset.</summary>
    private int BuildNode(ulong[] items, int from, int to, int shift, int bits, uint inherited)
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
                // v is a multiple of the count, so a count of 8 or more is whole vectors (inline: no Fill call).
                int count = 1 << (paintLimit - length);
                uint nextHop = ChunkRoutes.NextHop(item);
                if (count >= 8)
                {
                    Vector256<uint> paint = Vector256.Create(nextHop);
                    for (int at = v; at < v + count; at += 8) paint.StoreUnsafe(ref slotRef, (nuint)at + 1);
                }
                else
                {
                    slot.Slice(v, count).Fill(nextHop);
                }
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

        // A child slot keeps its painted answer for the child and holds a placeholder child leaf (ChunkTag + v: unique,
        // so it always starts a run of its own), patched with the child's offset once the child is built.
        int words = (slots + 63) >> 6;
        for (int w = 0; w < words; w++)
        {
            for (ulong b = childBits[w]; b != 0; b &= b - 1)
            {
                int v = 64 * w + BitOperations.TrailingZeroCount(b);
                childInherited[v] = slot[v];
                slot[v] = Lpm4Table.ChunkTag + (uint)v;
            }
        }
        // A leaf run starts at a slot whose answer differs from the previous slot's; the sentinel starts slot 0's.
        slotBuffer[0] = ~slot[0];
        ulong run0 = 0, run1 = 0;   // in registers: no load-modify-store of a stack word per 8 slots
        for (int v = 0; v < Math.Min(slots, 64); v += 8)
        {
            uint equal = Vector256.Equals(Vector256.LoadUnsafe(ref slotRef, (nuint)v + 1), Vector256.LoadUnsafe(ref slotRef, (nuint)v))
                .ExtractMostSignificantBits();
            run0 |= (ulong)(~equal & 0xFF) << v;
        }
        for (int v = 64; v < slots; v += 8)
        {
            uint equal = Vector256.Equals(Vector256.LoadUnsafe(ref slotRef, (nuint)v + 1), Vector256.LoadUnsafe(ref slotRef, (nuint)v))
                .ExtractMostSignificantBits();
            run1 |= (ulong)(~equal & 0xFF) << (v - 64);
        }
        runBits[0] = run0;
        runBits[1] = run1;
        int leafCount = BitOperations.PopCount(run0) + BitOperations.PopCount(run1);
        int header = bits == RootBits ? RootNodeSize : NodeSize;
        int node = Reserve(header + leafCount);
        for (int w = 0; w < words; w++)
        {
            _buffer[node + 2 * w] = (uint)runBits[w];
            _buffer[node + 2 * w + 1] = (uint)(runBits[w] >> 32);
        }
        if (bits == RootBits)
        {
            _buffer[node + 4] = 4 * RootLeafBase;   // in bytes: the reader adds it to the chunk pointer as is
            _buffer[node + 5] = 4 * (RootLeafBase + (uint)BitOperations.PopCount(runBits[0]));
        }
        // The leaves: one per run start, in slot order (Reserve checked the room; a child slot's leaf is found again by rank below).
        ref uint leafRef = ref _buffer[node + header];
        int leaf = 0;
        for (int w = 0; w < words; w++)
        {
            for (ulong b = runBits[w]; b != 0; b &= b - 1)
                Unsafe.Add(ref leafRef, leaf++) = Unsafe.Add(ref slotRef, 64 * w + BitOperations.TrailingZeroCount(b) + 1);
        }

        // Children after this node's leaves, depth first: a node's leaves sit next to its bitmap (same or adjacent line).
        for (int w = 0; w < words; w++)
        {
            for (ulong b = childBits[w]; b != 0; b &= b - 1)
            {
                int v = 64 * w + BitOperations.TrailingZeroCount(b);
                int child = BuildNode(items, childFrom[v], childTo[v], paintLimit, 6, childInherited[v]);
                // A child slot starts its own run (its placeholder is unique), so its leaf is the run count up to and including it.
                int rank = (w == 1 ? BitOperations.PopCount(runBits[0]) : 0) + BitOperations.PopCount(runBits[w] & (ulong.MaxValue >> (63 - (v & 63))));
                _buffer[node + header + rank - 1] = Lpm4Table.ChunkTag + (uint)child;
            }
        }
        return node;
    }

    private int Reserve(int count)
    {
        int at = _used;
        if (_used + count > _buffer.Length) Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _used + count));
        _used += count;
        return at;
    }
}
