namespace FastTun.Packets.Routing;

/// <summary>
/// The writer's authoritative list of prefixes longer than /17 inside one /17, kept sorted by
/// <see cref="Lpm4Table.LongKey"/> (address, then length) so <see cref="ChunkBuilder"/> can paint it in one pass.
/// Typical lists hold a few dozen routes; insert and remove shift the tail (a /17 holds at most 65,534 prefixes).
/// </summary>
internal sealed class ChunkRoutes
{
    public ulong[] Keys = new ulong[4];
    public uint[] Values = new uint[4];
    public int Count;

    /// <summary>The key's index, or the bitwise complement of where it would be inserted (as Array.BinarySearch).</summary>
    public int IndexOf(ulong key)
    {
        ulong[] keys = Keys;
        int low = 0, high = Count - 1;
        while (low <= high)
        {
            int middle = (int)((uint)(low + high) >> 1);
            ulong k = keys[middle];
            if (k == key) return middle;
            if (k < key) low = middle + 1;
            else high = middle - 1;
        }
        return ~low;
    }

    /// <summary>Inserts or replaces; true when the key was new.</summary>
    public bool Upsert(ulong key, uint value)
    {
        int at = IndexOf(key);
        if (at >= 0)
        {
            Values[at] = value;
            return false;
        }
        at = ~at;
        if (Count == Keys.Length)
        {
            Array.Resize(ref Keys, Count * 2);
            Array.Resize(ref Values, Count * 2);
        }
        Array.Copy(Keys, at, Keys, at + 1, Count - at);
        Array.Copy(Values, at, Values, at + 1, Count - at);
        Keys[at] = key;
        Values[at] = value;
        Count++;
        return true;
    }

    public bool Remove(ulong key)
    {
        int at = IndexOf(key);
        if (at < 0) return false;
        Count--;
        Array.Copy(Keys, at + 1, Keys, at, Count - at);
        Array.Copy(Values, at + 1, Values, at, Count - at);
        return true;
    }
}
