namespace FastTun.Packets.Tunnels;

public enum TunnelMode : byte
{
    /// <summary>IPv4 in IPv4 (RFC 2003), IP protocol 4.</summary>
    Ipip,
    /// <summary>GRE (RFC 2784/2890) carrying IPv4, IP protocol 47.</summary>
    Gre,
}

/// <summary>
/// Outer TOS rule. <see cref="Inherit"/> copies the inner DSCP; otherwise <see cref="Value"/>'s DSCP bits are
/// used. Either way the ECN field follows RFC 6040 as Linux applies it (see <see cref="TunnelEncap"/>).
/// <c>default</c> is Linux's default <c>tos 0</c>.
/// </summary>
public readonly record struct TunnelTos(bool Inherit, byte Value)
{
    public static TunnelTos InheritFromInner => new(true, 0);
    public static TunnelTos Fixed(byte value) => new(false, value);
    public override string ToString() => Inherit ? "inherit" : $"0x{Value:x2}";
}

/// <summary>
/// What <c>ip tunnel add NAME mode ipip|gre local L remote R [ttl N|inherit] [tos T|inherit] [[no]pmtudisc]
/// [[i|o]key K] [[i|o]csum] [[i|o]seq]</c> configures. Immutable; validated at construction (control plane),
/// throwing <see cref="ArgumentException"/> for combinations Linux rejects.
/// </summary>
public sealed class TunnelSettings
{
    public const int IpipOverhead = 20;
    public const int GreOverhead = 24;

    /// <param name="ttl">0 = inherit (outer TTL = inner TTL as forwarded); iproute2's default. VyOS passes 255.</param>
    /// <param name="key">iproute2 <c>key K</c>: sets both directions unless <paramref name="inputKey"/> or
    /// <paramref name="outputKey"/> says otherwise.</param>
    /// <param name="checksum">iproute2 <c>csum</c>: both directions.</param>
    /// <param name="sequence">iproute2 <c>seq</c>: both directions.</param>
    public TunnelSettings(string name, TunnelMode mode, uint local, uint remote,
        byte ttl = 0, TunnelTos tos = default, bool pmtuDiscovery = true,
        uint? key = null, uint? inputKey = null, uint? outputKey = null,
        bool checksum = false, bool inputChecksum = false, bool outputChecksum = false,
        bool sequence = false, bool inputSequence = false, bool outputSequence = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (mode is not (TunnelMode.Ipip or TunnelMode.Gre)) throw new ArgumentException($"unknown tunnel mode {mode}", nameof(mode));
        // The decap table matches (remote, local) exactly and has no catch-all, so both ends must be real addresses.
        if (local == 0) throw new ArgumentException("local address is required", nameof(local));
        if (remote == 0) throw new ArgumentException("remote address is required", nameof(remote));
        Name = name;
        Mode = mode;
        Local = local;
        Remote = remote;
        Ttl = ttl;
        Tos = tos;
        PmtuDiscovery = pmtuDiscovery;
        InputKey = inputKey ?? key;
        OutputKey = outputKey ?? key;
        InputChecksum = inputChecksum || checksum;
        OutputChecksum = outputChecksum || checksum;
        InputSequence = inputSequence || sequence;
        OutputSequence = outputSequence || sequence;

        if (mode == TunnelMode.Ipip && (InputKey.HasValue || OutputKey.HasValue || InputChecksum || OutputChecksum || InputSequence || OutputSequence))
            throw new ArgumentException($"tunnel {name}: key, csum and seq are GRE options, not valid on an ipip tunnel");
        // iproute2: "ttl != 0 and nopmtudisc are incompatible" — a fixed TTL implies DF.
        if (!pmtuDiscovery && ttl != 0)
            throw new ArgumentException($"tunnel {name}: nopmtudisc requires ttl inherit", nameof(pmtuDiscovery));
    }

    public string Name { get; }
    public TunnelMode Mode { get; }
    /// <summary>Outer source on transmit, expected outer destination on receive (host order).</summary>
    public uint Local { get; }
    /// <summary>Outer destination on transmit, expected outer source on receive (host order).</summary>
    public uint Remote { get; }
    /// <summary>Outer TTL; 0 = inherit.</summary>
    public byte Ttl { get; }
    public TunnelTos Tos { get; }
    /// <summary>On (default): outer DF always set. Off (<c>nopmtudisc</c>): outer DF copies the inner DF.</summary>
    public bool PmtuDiscovery { get; }
    public uint? InputKey { get; }
    public uint? OutputKey { get; }
    public bool InputChecksum { get; }
    public bool OutputChecksum { get; }
    public bool InputSequence { get; }
    public bool OutputSequence { get; }

    /// <summary>IP protocol number of the outer header.</summary>
    public byte Protocol => Mode == TunnelMode.Gre ? (byte)47 : (byte)4;

    /// <summary>Bytes the outer headers add: 20 (ipip) or 24 + 4 per enabled output GRE option.</summary>
    public int Overhead => Mode == TunnelMode.Ipip
        ? IpipOverhead
        : GreOverhead + (OutputKey.HasValue ? 4 : 0) + (OutputChecksum ? 4 : 0) + (OutputSequence ? 4 : 0);

    /// <summary>Tunnel MTU on an underlay of <paramref name="underlayMtu"/>: 1480/1476/1472/1468/1464 on 1500.</summary>
    public int Mtu(int underlayMtu) => underlayMtu - Overhead;

    public override string ToString() =>
        $"{Name} mode {(Mode == TunnelMode.Gre ? "gre" : "ipip")} local {Headers.Ipv4Address.Format(Local)} remote {Headers.Ipv4Address.Format(Remote)}";
}
