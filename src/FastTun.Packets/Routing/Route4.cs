using System.Buffers.Binary;
using System.Globalization;

namespace FastTun.Packets.Routing;

/// <summary>
/// One IPv4 route: <see cref="Prefix"/>/<see cref="Length"/> → <see cref="NextHop"/>. The prefix is a host-order
/// address (10.1.5.0 is 0x0A010500) whose bits below <see cref="Length"/> are zero.
/// </summary>
public readonly record struct Route4(uint Prefix, int Length, uint NextHop)
{
    /// <summary>Network mask for a prefix length 0..32 (length 0 → 0, 32 → all ones).</summary>
    public static uint Mask(int length) => length == 0 ? 0u : uint.MaxValue << (32 - length);

    /// <summary>True when the length is 0..32, the prefix has no host bits and the next hop is storable.</summary>
    public bool IsValid => Length is >= 0 and <= 32 && (Prefix & ~Mask(Length)) == 0 && NextHop <= Lpm4Table.MaxNextHop;

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Headers.Ipv4Address.Format(Prefix)}/{Length} {NextHop}");
}
