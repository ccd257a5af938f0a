using System.Buffers.Binary;
using System.Text;
using FastTun.Gateway.Dataplane;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;

namespace FastTun.Gateway.Bench;

/// <summary>
/// <c>fasttun bench worker --mode decap --tunnels N</c> (#15 item 5): gw1 as a hub of N spokes, each with one tunnel
/// (the hub: IPIP, or with <c>--hub-gre</c> GRE keyed by the spoke's index) or, with
/// <c>--tunnels-per-spoke 2</c>, with both (2N tunnels, as <c>hub-ratio</c> builds them, and as the figures before
/// session 9 were measured), and IPIP or keyed GRE frames (<c>--hub-gre</c>) whose spoke is drawn at random per frame. Spoke i's outer address is
/// 172.16.0.0 + i + 1, behind gw2 (172.12.1.11) on eth2; the inner packets are those of the plain decap bench. The
/// frame templates are <see cref="Templates"/> whatever N, so the 1-spoke and the N-spoke runs differ only in the
/// spokes: the memory NIC replays them in a cycle long enough that a 10,000-spoke run touches nearly every spoke
/// (≈ 96 %) per cycle, in no fixed small set.
/// </summary>
public static class WorkerBenchHub
{
    public const int MaxSpokes = 1 << 20;
    /// <summary>Frame templates of a hub run (the plain bench uses 8,192).</summary>
    public const int Templates = 32_768;
    private const uint SpokeBase = 0xAC100000; // 172.16.0.0/12
    private const int SpokePrefixLength = 12;
    private const ulong SpokeSeed = 0x5EED15;

    public static uint Spoke(int i) => SpokeBase + (uint)i + 1;

    /// <summary>Bytes of the tunnel header in front of the inner packet.</summary>
    public static int OuterBytes(bool gre) => Ipv4Header.MinLength + (gre ? GreHeader.OptionsOffset + 4 : 0);

    /// <summary>The hub's configuration: the plain decap bench's interfaces and routes, with tun0 (spoke 0's first
    /// tunnel) carrying 1.1.1.1/24 so the route to server2's LAN through 1.1.1.2 stays. <paramref name="perSpoke"/> 1:
    /// one tunnel per spoke, keyed GRE when <paramref name="gre"/>, else IPIP; 2: an IPIP and a keyed GRE tunnel each
    /// (tun2i and tun2i+1).</summary>
    public static string Config(int spokes, bool gre = false, int perSpoke = 1)
    {
        if (spokes is < 1 or > MaxSpokes) throw new ArgumentOutOfRangeException(nameof(spokes), spokes, $"spokes must be 1..{MaxSpokes}");
        if (perSpoke is < 1 or > 2) throw new ArgumentOutOfRangeException(nameof(perSpoke), perSpoke, "tunnels per spoke must be 1 or 2");
        var sb = new StringBuilder(spokes * perSpoke * 150);
        sb.Append("set interfaces ethernet eth1 address '10.1.5.1/24'\n");
        sb.Append("set interfaces ethernet eth2 address '172.12.1.10/24'\n");
        sb.Append("set interfaces tunnel tun0 address '1.1.1.1/24'\n");
        for (int t = 0; t < perSpoke * spokes; t++)
        {
            int spoke = t / perSpoke;
            bool keyed = perSpoke == 2 ? t % 2 == 1 : gre;
            string tun = $"set interfaces tunnel tun{t} ";
            sb.Append(tun).Append("encapsulation '").Append(keyed ? "gre" : "ipip").Append("'\n");
            sb.Append(tun).Append("local-ip '172.12.1.10'\n");
            sb.Append(tun).Append("remote-ip '").Append(Ipv4Address.Format(Spoke(spoke))).Append("'\n");
            if (keyed) sb.Append(tun).Append("parameters ip key '").Append(spoke).Append("'\n");
        }
        sb.Append("set protocols static route 172.16.0.0/12 next-hop 172.12.1.11\n");
        sb.Append("set protocols static route 10.1.8.0/24 next-hop 1.1.1.2\n");
        sb.Append("set protocols static route 10.1.7.0/24 next-hop 10.1.5.10\n");
        return sb.ToString();
    }

    /// <summary>The spokes' route again after the synthetic table, which may cover 172.16/12 with server1's hop: the
    /// outer source check needs the way back to every spoke.</summary>
    public static void ReinstallSpokeRoute(ForwardingState state, List<InstalledRoute> installed, NextHop[] hops)
    {
        foreach (var r in installed)
            if (r.Prefix == SpokeBase && r.Length == SpokePrefixLength)
                state.Routes.AddOrReplace(r.Prefix, r.Length, (uint)Array.IndexOf(hops, r.Hop));
    }

    /// <summary>A seeded spoke sequence apart from the destinations' generator: runs with any N send the same inner
    /// packets.</summary>
    public static Random SpokeRandom() => new((int)SpokeSeed);

    /// <summary>Writes the outer Ethernet, IPv4 and (keyed) GRE headers of a frame from <paramref name="spoke"/> to
    /// gw1's eth2, and returns where the inner IPv4 packet starts.</summary>
    public static Span<byte> WriteOuter(Span<byte> frame, int spoke, bool gre, ulong gw1Mac, ulong gw2Mac, uint gw1)
    {
        NeighborEntry.WriteMac(gw1Mac, frame);
        NeighborEntry.WriteMac(gw2Mac, frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], 0x0800);
        Span<byte> ip = frame[14..];
        Ipv4Header.Write(ip, 0, (ushort)ip.Length, 1, true, 64, gre ? Ipv4Header.ProtocolGre : Ipv4Header.ProtocolIpip, Spoke(spoke), gw1);
        if (gre)
        {
            BinaryPrimitives.WriteUInt16BigEndian(ip[Ipv4Header.MinLength..], GreHeader.FlagKey);
            BinaryPrimitives.WriteUInt16BigEndian(ip[(Ipv4Header.MinLength + 2)..], GreHeader.ProtocolIPv4);
            BinaryPrimitives.WriteUInt32BigEndian(ip[(Ipv4Header.MinLength + GreHeader.OptionsOffset)..], (uint)spoke);
        }
        return ip[OuterBytes(gre)..];
    }
}
