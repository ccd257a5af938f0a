using FastTun.Gateway.Config;
using FastTun.Gateway.Dataplane;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using FastTun.Packets.Routing;
using FastTun.Traffic;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastTun.Gateway.Bench;

/// <summary>What <c>fasttun bench worker</c> pushes through the worker.</summary>
public enum WorkerBenchMode { Ipip, Gre, Decap, Forward }

/// <summary>
/// The forwarding state and the frames of <c>fasttun bench worker</c>: gw1 of the seed lab (eth1 10.1.5.1/24 to
/// server1, eth2 172.12.1.10/24 to gw2, tun0 to 172.12.1.11), plus the DFZ-like synthetic table of N prefixes
/// routed the way the mode needs: into tun0 (ipip, gre with key, checksum and sequence), to gw2 on eth2
/// (forward), or to server1 on eth1 (decap, where gw2's IPIP packets arrive on eth2). The gateway's own
/// connected and local routes are installed again afterwards so no synthetic prefix shadows them.
/// Destinations are drawn from the table's prefixes with a fixed seed, so every run sends the same frames.
/// </summary>
public sealed class WorkerBenchSetup
{
    public const ulong Gw1Eth1Mac = 0x020000000101, Gw1Eth2Mac = 0x020000000102, Gw2Eth2Mac = 0x020000000202, Server1Mac = 0xaac1ab526107;
    private const uint Server1 = 0x0A01050A, Gw1Eth2 = 0xAC0C010A, Gw2Eth2 = 0xAC0C010B, Server2 = 0x0A01080A;
    /// <summary>Underlay MTU, as in the e2e lab: room for a full 1500-byte LAN frame plus any tunnel header.</summary>
    public const int UnderlayMtu = 1600;

    private WorkerBenchSetup(ForwardingState state, NeighborTable neighbors, ushort rxPort, ushort txPort, byte[] templates,
        int frameLength, int templateCount, int routes)
    {
        State = state;
        Neighbors = neighbors;
        RxPort = rxPort;
        TxPort = txPort;
        Templates = templates;
        FrameLength = frameLength;
        TemplateCount = templateCount;
        RouteCount = routes;
    }

    public ForwardingState State { get; }
    public NeighborTable Neighbors { get; }
    public ushort RxPort { get; }
    public ushort TxPort { get; }
    /// <summary><see cref="TemplateCount"/> frames of <see cref="FrameLength"/> bytes, back to back; equal beyond
    /// their headers.</summary>
    public byte[] Templates { get; }
    public int FrameLength { get; }
    public int TemplateCount { get; }
    public int RouteCount { get; }

    /// <summary>The synthetic table: the one place that names where it comes from (a test fixture may move it).</summary>
    public static Route4[] SyntheticRoutes(int count) => SyntheticTable.Generate(count);

    /// <param name="lanFrameBytes">Size of the plain frame on the LAN side, FCS included (64 = minimum, as in
    /// RFC 2544); memory holds it without the FCS. Decap receives it with gw2's 20-byte IPIP header added.</param>
    /// <param name="hubSpokes">0, or decap at a hub of this many spokes (<see cref="WorkerBenchHub"/>) with IPIP or
    /// (<paramref name="hubGre"/>) keyed GRE frames from a random spoke each.</param>
    /// <param name="hubActive">0 (every spoke), or the frames come from the first this many spokes only: the hub's table
    /// with a few hot spokes, whose lines stay in the cache (the decap prefetch must then cost nothing).</param>
    /// <param name="hubTunnelsPerSpoke">1: each spoke has the one tunnel its frames use (#15's hub); 2: an IPIP and a keyed
    /// GRE tunnel each, twice the table.</param>
    /// <param name="hubBurst">Frames in a row from one spoke (1: a new random spoke every frame, the worst case; a NIC's
    /// batch from a TCP sender's burst or a GRO/TSO segment train holds many frames of one spoke).</param>
    public static WorkerBenchSetup Create(WorkerBenchMode mode, int routeCount, int lanFrameBytes, int templateCount = 8192, ulong seed = 0x5EED,
        int hubSpokes = 0, bool hubGre = false, int hubActive = 0, int hubTunnelsPerSpoke = 1, int hubBurst = 1)
    {
        if (hubBurst < 1) throw new ArgumentOutOfRangeException(nameof(hubBurst), hubBurst, "a spoke's burst is 1 frame or more");
        if (hubSpokes == 0 && (hubBurst != 1 || hubTunnelsPerSpoke != 1))
            throw new ArgumentException("--spoke-burst and --tunnels-per-spoke need --tunnels");
        if (hubActive < 0 || hubActive > hubSpokes) throw new ArgumentOutOfRangeException(nameof(hubActive), hubActive, "active spokes must be 0..spokes (--tunnels)");
        if (lanFrameBytes is < 64 or > 1518) throw new ArgumentOutOfRangeException(nameof(lanFrameBytes), lanFrameBytes, "frame must be 64..1518 bytes");
        if (routeCount < 1) throw new ArgumentOutOfRangeException(nameof(routeCount), routeCount, "routes must be at least 1");
        string tunnel = mode == WorkerBenchMode.Gre
            ? """
              set interfaces tunnel tun0 encapsulation 'gre'
              set interfaces tunnel tun0 parameters ip key '42'
              set interfaces tunnel tun0 parameters ip checksum
              set interfaces tunnel tun0 parameters ip sequence
              """
            : "set interfaces tunnel tun0 encapsulation 'ipip'";
        string config = $"""
            set interfaces ethernet eth1 address '10.1.5.1/24'
            set interfaces ethernet eth2 address '172.12.1.10/24'
            set interfaces tunnel tun0 address '1.1.1.1/24'
            {tunnel}
            set interfaces tunnel tun0 local-ip '172.12.1.10'
            set interfaces tunnel tun0 remote-ip '172.12.1.11'
            set protocols static route 10.1.8.0/24 next-hop 1.1.1.2
            set protocols static route 10.1.9.0/24 next-hop 172.12.1.11
            set protocols static route 10.1.7.0/24 next-hop 10.1.5.10
            """;
        if (hubSpokes > 0) (config, templateCount) = (WorkerBenchHub.Config(hubSpokes, hubGre, hubTunnelsPerSpoke), WorkerBenchHub.Templates); // hub6 hook
        var parsed = GatewayConfig.Parse(config, "bench-worker", NullLogger.Instance);
        PortFacts[] facts = [new("eth1", Gw1Eth1Mac, 1500), new("eth2", Gw1Eth2Mac, UnderlayMtu)];
        var state = StateBuilder.Build(parsed, facts, null, out var installed, workers: 1); // one worker, as the bench runs
        uint probe = mode switch { WorkerBenchMode.Forward => 0x0A010900u, WorkerBenchMode.Decap => 0x0A010700u, _ => 0x0A010800u };
        uint hop = state.Routes.Lookup(probe);

        var table = SyntheticRoutes(routeCount);
        var mapped = new Route4[table.Length];
        for (int i = 0; i < table.Length; i++) mapped[i] = new Route4(table[i].Prefix, table[i].Length, hop);
        state.Routes.AddRange(mapped);
        var gateway = state.NextHops;
        foreach (var r in installed)
            if (r.Origin is RouteOrigin.Local or RouteOrigin.Connected)
                state.Routes.AddOrReplace(r.Prefix, r.Length, (uint)Array.IndexOf(gateway, r.Hop));
        if (hubSpokes > 0) WorkerBenchHub.ReinstallSpokeRoute(state, installed, gateway); // hub6 hook

        var neighbors = new NeighborTable();
        neighbors.AddStatic(1, Gw2Eth2, Gw2Eth2Mac, 0);
        neighbors.AddStatic(0, Server1, Server1Mac, 0);

        int plain = lanFrameBytes - 4;
        int length = mode == WorkerBenchMode.Decap ? plain + WorkerBenchHub.OuterBytes(hubSpokes > 0 && hubGre) : plain;
        var spokes = WorkerBenchHub.SpokeRandom(); // hub6 hook
        int spoke = 0;
        var templates = new byte[templateCount * length];
        var rng = new Random((int)seed); // seeded: same frames every run
        for (int made = 0; made < templateCount;)
        {
            var r = table[rng.Next(table.Length)];
            uint host = r.Length == 32 ? 0 : (uint)rng.NextInt64(0, 1L << (32 - r.Length));
            uint dst = r.Prefix | host;
            if (state.Routes.Lookup(dst) != hop) continue; // a gateway prefix covers it
            if (hubSpokes > 0)
            {
                if (made % hubBurst == 0) spoke = spokes.Next(hubActive > 0 ? hubActive : hubSpokes);
                WriteUdp(WorkerBenchHub.WriteOuter(templates.AsSpan(made * length, length), spoke, hubGre, Gw1Eth2Mac, Gw2Eth2Mac, Gw1Eth2), Server2, dst);
            }
            else WriteFrame(templates.AsSpan(made * length, length), mode, dst, plain);
            made++;
        }
        return new WorkerBenchSetup(state, neighbors, mode == WorkerBenchMode.Decap ? (ushort)1 : (ushort)0,
            mode == WorkerBenchMode.Decap ? (ushort)0 : (ushort)1, templates, length, templateCount, table.Length);
    }

    private static void WriteFrame(Span<byte> frame, WorkerBenchMode mode, uint dst, int plain)
    {
        frame.Clear();
        Span<byte> ip;
        if (mode == WorkerBenchMode.Decap)
        {
            NeighborEntry.WriteMac(Gw1Eth2Mac, frame);
            NeighborEntry.WriteMac(Gw2Eth2Mac, frame[6..]);
            ip = frame[14..];
            Ipv4Header.Write(ip, 0, (ushort)ip.Length, 1, true, 64, Ipv4Header.ProtocolIpip, Gw2Eth2, Gw1Eth2);
            ip = ip[20..];
            WriteUdp(ip, Server2, dst);
        }
        else
        {
            NeighborEntry.WriteMac(Gw1Eth1Mac, frame);
            NeighborEntry.WriteMac(Server1Mac, frame[6..]);
            WriteUdp(frame[14..], Server1, dst);
        }
        frame[12] = 0x08;
        frame[13] = 0x00;
    }

    private static void WriteUdp(Span<byte> ip, uint src, uint dst)
    {
        Ipv4Header.Write(ip, 0, (ushort)ip.Length, 1, true, 64, Ipv4Header.ProtocolUdp, src, dst);
        UdpHeader.Write(ip[20..], 1234, 5678, src, dst);
    }
}
