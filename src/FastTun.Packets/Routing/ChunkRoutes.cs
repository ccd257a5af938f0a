namespace FastTun.Packets.Routing;

/// <summary>
/// The writer's authoritative list of prefixes longer than /17 inside one /17, kept sorted by
/// <see cref="Lpm4Table.LongKey"/> (address, then length) so <see cref="ChunkBuilder"/> can paint it in one pass.
/// Each item packs key and next hop in one ulong (<see cref="Item"/>), so an update touches one array, not two.
/// Typical lists hold a few dozen routes; insert and remove shift the tail (a /17 holds at most 65,534 prefixes).
/// </summary>
internal sealed class ChunkRoutes
{
    /// <summary>Bits 40–54: the address's low 15 bits (the /17 gives the rest), 32–39: the length, 0–31: the next hop.</summary>
    public ulong[] Items = new ulong[4];
    public int Count;

    /// <summary>The item of a long prefix: item &gt;&gt; 32 is its key inside the /17, in (address, length) order.</summary>
    public static ulong Item(ulong key, uint nextHop) => ((key & 0x7F_FFFF) << 32) | nextHop;

    /// <summary>Address bits of an item (the /17's own top 17 bits read as zero: builders shift them out).</summary>
    public static uint Address(ulong item) => (uint)(item >> 40);

    public static int Length(ulong item) => (int)((item >> 32) & 0xFF);

    public static uint NextHop(ulong item) => (uint)item;

    /// <summary>
    /// Index of the key (<see cref="Lpm4Table.LongKey"/>), or the bitwise complement of where it would be inserted.
    /// </summary>
    public int IndexOf(ulong key)
    {
        ulong[] items = Items;
        ulong local = key & 0x7F_FFFF;
        int low = 0, high = Count - 1;
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

    /// <summary>Inserts or replaces; true when the key was new.</summary>
    public bool Upsert(ulong key, uint value)
    {
        int at = IndexOf(key);
        if (at >= 0)
        {
            Items[at] = Item(key, value);
            return false;
        }
        at = ~at;
        if (Count == Items.Length) Array.Resize(ref Items, Count * 2);
        Array.Copy(Items, at, Items, at + 1, Count - at);
        Items[at] = Item(key, value);
        Count++;
        return true;
    }

    public bool Remove(ulong key)
    {
        int at = IndexOf(key);
        if (at < 0) return false;
        Count--;
        Array.Copy(Items, at + 1, Items, at, Count - at);
        return true;
    }
}
