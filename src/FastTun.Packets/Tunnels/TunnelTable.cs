using System.Runtime.CompilerServices;

namespace FastTun.Packets.Tunnels;

/// <summary>
/// Receive-side tunnel lookup by the exact (outer source = remote, outer destination = local, protocol, key)
/// of Linux <c>ip_tunnel_lookup</c> without its wildcard passes: no catch-all, a keyed tunnel only matches
/// packets with its key and an unkeyed one only packets without a key. Open addressing with linear probing
/// over a power-of-two array kept at most half full: a lookup is one multiply-hash and usually one probe,
/// with no allocation.
/// <para>Adding copies the array and publishes the copy, so workers may look up while the control plane adds.</para>
/// </summary>
public sealed class TunnelTable
{
    private struct Slot
    {
        public uint Remote;
        public uint Local;
        public uint Key;
        public byte Protocol;
        public bool HasKey;
        public Tunnel? Tunnel;
    }

    private Slot[] _slots = new Slot[8];
    private readonly List<Tunnel> _tunnels = new();

    public int Count => _tunnels.Count;

    /// <summary>The tunnels in the order added (control plane).</summary>
    public IReadOnlyList<Tunnel> Tunnels => _tunnels;

    /// <summary>Adds a tunnel; throws when another one already receives the same (remote, local, mode, key).
    /// Control plane only, one writer at a time.</summary>
    public void Add(Tunnel tunnel)
    {
        ArgumentNullException.ThrowIfNull(tunnel);
        TunnelSettings s = tunnel.Settings;
        if (Lookup(s.Remote, s.Local, s.Protocol, s.InputKey) is { } existing)
            throw new ArgumentException($"tunnel {s.Name} receives the same packets as tunnel {existing.Name}", nameof(tunnel));
        int size = _slots.Length;
        while ((_tunnels.Count + 1) * 2 > size) size *= 2;
        var slots = new Slot[size];
        foreach (Tunnel t in _tunnels) Insert(slots, t);
        Insert(slots, tunnel);
        _tunnels.Add(tunnel);
        // Publishes the fully built array: a worker's Volatile.Read in Lookup sees either the old table or the
        // new one with every slot written.
        Volatile.Write(ref _slots, slots);
    }

    private static void Insert(Slot[] slots, Tunnel tunnel)
    {
        TunnelSettings s = tunnel.Settings;
        int mask = slots.Length - 1;
        int i = Hash(s.Remote, s.Local, s.Protocol, s.InputKey ?? 0) & mask;
        while (slots[i].Tunnel is not null) i = (i + 1) & mask;
        slots[i] = new Slot
        {
            Remote = s.Remote, Local = s.Local, Protocol = s.Protocol,
            HasKey = s.InputKey.HasValue, Key = s.InputKey ?? 0, Tunnel = tunnel,
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Hash(uint remote, uint local, byte protocol, uint key)
    {
        uint h = (remote * 0x9E3779B1u) ^ (local * 0x85EBCA77u) ^ (key * 0xC2B2AE3Du) ^ protocol;
        return (int)(h ^ (h >> 15));
    }

    /// <summary>The tunnel that receives a packet from <paramref name="outerSource"/> to
    /// <paramref name="outerDestination"/> with IP <paramref name="protocol"/> and GRE <paramref name="key"/>
    /// (null when the packet has none), or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Tunnel? Lookup(uint outerSource, uint outerDestination, byte protocol, uint? key)
    {
        // Pairs with the Volatile.Write in Add: the array read here is completely built.
        Slot[] slots = Volatile.Read(ref _slots);
        int mask = slots.Length - 1;
        bool hasKey = key.HasValue;
        uint k = key.GetValueOrDefault();
        int i = Hash(outerSource, outerDestination, protocol, k) & mask;
        while (true)
        {
            ref Slot s = ref slots[i];
            if (s.Tunnel is null) return null;
            if (s.Remote == outerSource && s.Local == outerDestination && s.Protocol == protocol
                && s.HasKey == hasKey && s.Key == k)
                return s.Tunnel;
            i = (i + 1) & mask;
        }
    }

    /// <summary>True when some tunnel of this protocol has these endpoints, whatever its key: tells a key
    /// mismatch from an unknown peer. Slow (scans); for the drop path only.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public bool HasEndpoints(uint outerSource, uint outerDestination, byte protocol)
    {
        foreach (Slot s in Volatile.Read(ref _slots)) // pairs with the Volatile.Write in Add
        {
            if (s.Tunnel is not null && s.Remote == outerSource && s.Local == outerDestination && s.Protocol == protocol)
                return true;
        }
        return false;
    }
}
