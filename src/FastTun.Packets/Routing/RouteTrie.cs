namespace FastTun.Packets.Routing;

/// <summary>
/// Plain one-bit-per-level binary trie: the slow, obviously-correct reference that <see cref="Lpm4Table"/> is
/// compared against in tests. Nodes live in parallel arrays (not objects) so that a 1M-prefix table costs
/// ~16 bytes per node instead of ~40 and builds in about a second. Deleted prefixes leave their nodes in place
/// (an empty node answers nothing), which keeps Delete trivially correct. Not thread-safe.
/// </summary>
public sealed class RouteTrie
{
    private const uint Empty = Lpm4Table.NoRoute;
    private int[] _children = new int[2 * 1024];   // [2n] = zero branch, [2n+1] = one branch, 0 = none
    private uint[] _values = new uint[1024];        // Empty = no prefix ends at this node
    private int _nodes = 1;                         // node 0 is the root (/0)

    public int Count { get; private set; }

    public RouteTrie() => _values[0] = Empty;

    /// <summary>Inserts or replaces; returns true when the prefix was new.</summary>
    public bool AddOrReplace(uint prefix, int length, uint nextHop)
    {
        Validate(prefix, length);
        if (nextHop > Lpm4Table.MaxNextHop) throw new ArgumentOutOfRangeException(nameof(nextHop));
        int node = 0;
        for (int depth = 0; depth < length; depth++)
        {
            int slot = 2 * node + (int)((prefix >> (31 - depth)) & 1);
            int next = _children[slot];
            if (next == 0)
            {
                next = NewNode();
                _children[slot] = next;
            }
            node = next;
        }
        bool added = _values[node] == Empty;
        _values[node] = nextHop;
        if (added) Count++;
        return added;
    }

    public bool Delete(uint prefix, int length)
    {
        Validate(prefix, length);
        int node = Find(prefix, length);
        if (node < 0 || _values[node] == Empty) return false;
        _values[node] = Empty;
        Count--;
        return true;
    }

    public bool TryGet(uint prefix, int length, out uint nextHop)
    {
        Validate(prefix, length);
        int node = Find(prefix, length);
        nextHop = node < 0 ? Empty : _values[node];
        return nextHop != Empty;
    }

    /// <summary>Longest-prefix match; <see cref="Lpm4Table.NoRoute"/> when nothing covers the address.</summary>
    public uint Lookup(uint address)
    {
        uint best = _values[0];
        int node = 0;
        for (int depth = 0; depth < 32; depth++)
        {
            node = _children[2 * node + (int)((address >> (31 - depth)) & 1)];
            if (node == 0) break;
            if (_values[node] != Empty) best = _values[node];
        }
        return best;
    }

    private int Find(uint prefix, int length)
    {
        int node = 0;
        for (int depth = 0; depth < length && node >= 0; depth++)
        {
            node = _children[2 * node + (int)((prefix >> (31 - depth)) & 1)];
            if (node == 0) node = -1;
        }
        return node;
    }

    private int NewNode()
    {
        if (_nodes == _values.Length)
        {
            Array.Resize(ref _values, _values.Length * 2);
            Array.Resize(ref _children, _children.Length * 2);
        }
        _values[_nodes] = Empty;
        return _nodes++;
    }

    private static void Validate(uint prefix, int length)
    {
        if (length is < 0 or > 32) throw new ArgumentOutOfRangeException(nameof(length));
        if ((prefix & ~Route4.Mask(length)) != 0) throw new ArgumentException("prefix has host bits set", nameof(prefix));
    }
}
