namespace FastTun.Packets.Routing;

/// <summary>
/// The writer's authoritative list of prefixes longer than /17 inside one /17: an array and a count held in the
/// /17's own writer state (Lpm4Table.ChunkState), kept sorted by <see cref="Lpm4Table.LongKey"/> (address, then length)
/// so <see cref="ChunkBuilder"/> can paint it in one pass. Each item packs key and next hop in one ulong
/// (<see cref="Item"/>), so an update touches one array, and the state names the array itself (no list object between
/// them: one dependent miss fewer per update on a random /17). Typical lists hold a few dozen routes; insert and
/// remove shift the tail (a /17 holds at most 65,534 prefixes).
/// </summary>
internal static class ChunkRoutes
{
    /// <summary>Bits 40–54: the address's low 15 bits (the /17 gives the rest), 32–39: the length, 0–31: the next hop.</summary>
    public static ulong Item(ulong key, uint nextHop) => ((key & 0x7F_FFFF) << 32) | nextHop;

    /// <summary>Address bits of an item (the /17's own top 17 bits read as zero: builders shift them out).</summary>
    public static uint Address(ulong item) => (uint)(item >> 40);

    public static int Length(ulong item) => (int)((item >> 32) & 0xFF);

    public static uint NextHop(ulong item) => (uint)item;

    /// <summary>
    /// Index of the key (<see cref="Lpm4Table.LongKey"/>) among the first <paramref name="count"/> items, or the
    /// bitwise complement of where it would be inserted.
    /// </summary>
    public static int IndexOf(ulong[] items, int count, ulong key)
    {
        ulong local = key & 0x7F_FFFF;
        int low = 0, high = count - 1;
        while (low <= high)
        {
            int middle = (int)((uint)(low + high) >> 1);
            ulong k = items[middle] >> 32;
            if (k == local) return middle;
            if (k < local) low = middle + 1;
            else high = middle - 1;
        }
        return ~low;
    }

    /// <summary>Inserts or replaces (a null list becomes a new one); true when the key was new.</summary>
    public static bool Upsert(ref ulong[]? items, ref int count, ulong key, uint value)
    {
        items ??= new ulong[4];
        int at = IndexOf(items, count, key);
        if (at >= 0)
        {
            items[at] = Item(key, value);
            return false;
        }
        at = ~at;
        if (count == items.Length) Array.Resize(ref items, count * 2);
        Array.Copy(items, at, items, at + 1, count - at);
        items[at] = Item(key, value);
        count++;
        return true;
    }

    /// <summary>True when one of the first <paramref name="count"/> items answers <paramref name="a"/> or <paramref name="b"/>.</summary>
    public static bool HasNextHop(ulong[] items, int count, uint a, uint b)
    {
        for (int i = 0; i < count; i++)
        {
            uint nextHop = NextHop(items[i]);
            if (nextHop == a || nextHop == b) return true;
        }
        return false;
    }

    /// <summary>Removes the key; true when it was present.</summary>
    public static bool Remove(ulong[] items, ref int count, ulong key)
    {
        int at = IndexOf(items, count, key);
        if (at < 0) return false;
        count--;
        Array.Copy(items, at + 1, items, at, count - at);
        return true;
    }
}
