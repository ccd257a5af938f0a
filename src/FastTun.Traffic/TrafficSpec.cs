using FastTun.Packets.Tunnels;

namespace FastTun.Traffic;

/// <summary>How the generated UDP packets are wrapped before they leave.</summary>
public enum TrafficEncap
{
    None,
    Ipip,
    Gre,
    /// <summary>RFC 7348 VXLAN over UDP 4789, for the kernel VXLAN baseline's decap hop.</summary>
    Vxlan,
}

/// <summary>
/// What the generator sends: UDP/IPv4 frames of <see cref="Size"/> bytes (the inner Ethernet frame as the LAN
/// side carries it, FCS excluded), <see cref="Flows"/> flows that differ in the UDP source port, optionally
/// wrapped in a tunnel header (the frame on the wire is then larger by the tunnel overhead).
/// </summary>
public sealed record TrafficSpec
{
    public const int MinSize = 64;
    public const int MaxSize = 9000;
    public const ushort VxlanPort = 4789;
    public const int VxlanOverhead = 14 + 20 + 8 + 8;

    public required byte[] SourceMac { get; init; }
    public required byte[] DestinationMac { get; init; }
    public required uint Source { get; init; }
    public required uint Destination { get; init; }
    public ushort DestinationPort { get; init; } = 9;
    public ushort SourcePortBase { get; init; } = 10000;
    public int Size { get; init; } = 64;
    public int Flows { get; init; } = 1;
    public byte Ttl { get; init; } = 64;
    public TrafficEncap Encap { get; init; }
    /// <summary>Tunnel settings for <see cref="TrafficEncap.Ipip"/> / <see cref="TrafficEncap.Gre"/>.</summary>
    public TunnelSettings? Tunnel { get; init; }
    /// <summary>Outer addresses for VXLAN (for ipip/gre they come from <see cref="Tunnel"/>).</summary>
    public uint OuterSource { get; init; }
    public uint OuterDestination { get; init; }
    public uint Vni { get; init; } = 42;
    /// <summary>Destination MAC of the Ethernet frame inside VXLAN (the remote VXLAN device's MAC).</summary>
    public byte[]? InnerDestinationMac { get; init; }

    /// <summary>Bytes the encapsulation adds in front of the inner frame's IPv4 header (Ethernet excluded).</summary>
    public int Overhead => Encap switch
    {
        TrafficEncap.None => 0,
        TrafficEncap.Vxlan => VxlanOverhead,
        _ => Tunnel!.Overhead,
    };

    /// <summary>Frame length on the wire.</summary>
    public int WireSize => Size + Overhead;

    public string Describe() => Encap switch
    {
        TrafficEncap.None => $"{Size}-byte UDP frames",
        TrafficEncap.Vxlan => $"{Size}-byte UDP frames in VXLAN {Vni} ({WireSize} on the wire)",
        _ => $"{Size}-byte UDP frames in {(Encap == TrafficEncap.Gre ? "GRE" : "IPIP")} ({WireSize} on the wire)",
    };
}
