using BenchmarkDotNet.Attributes;
using FastTun.Gateway.Config;
using FastTun.Gateway.Dataplane;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using FastTun.Packets.Routing;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastTun.Benchmarks;

/// <summary>
/// The whole worker stage chain over in-memory batches of 64 frames, no I/O: classify (Ethernet, IPv4 checks),
/// route lookup in the 1M-prefix synthetic table, TTL decrement, encapsulation (or decapsulation), outer route,
/// neighbour lookup and the L2 rewrite — what decides speed on bare metal, where the NIC is not the bottleneck.
/// Every invocation first restores the 64 frames (a 64-to-98-byte copy each, as a NIC would have written them);
/// <see cref="RestoreOnly"/> measures that alone, so the pipeline's own cost is the difference.
/// </summary>
[MemoryDiagnoser]
public class PipelineBenchmarks
{
    private const int Batch = 64;
    private const ulong Gw1Eth1Mac = 0x020000000101, Gw1Eth2Mac = 0x020000000102, Gw2Eth2Mac = 0x020000000202, Server1Mac = 0xaac1ab526107;

    private ForwardingState _state = null!;
    private Pipeline _pipeline = null!;
    private PacketBatch _batch = null!;
    private FramePool _pool = null!;
    private byte[][] _originals = [];
    private readonly Frame[] _fresh = new Frame[Batch];

    /// <summary>The worker-bench targets of issue #10: IPIP encap, decap, GRE with key + checksum + sequence,
    /// plain forwarding (no tunnel, every prefix via a gateway on eth2) and IPIP encap of 1500-byte packets
    /// (underlay MTU 1600, as bench/e2e uses, so they fit the tunnel).</summary>
    public enum Direction { Encap, Decap, GreKeyCsumSeq, Forward, Encap1500 }

    [Params(Direction.Encap, Direction.Decap, Direction.GreKeyCsumSeq, Direction.Forward, Direction.Encap1500)]
    public Direction Path { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        bool gre = Path == Direction.GreKeyCsumSeq;
        string gw1 = $"""
            set interfaces ethernet eth1 address '10.1.5.1/24'
            set interfaces ethernet eth2 address '172.12.1.10/24'
            set interfaces tunnel tun0 address '1.1.1.1/24'
            set interfaces tunnel tun0 encapsulation '{(gre ? "gre" : "ipip")}'
            set interfaces tunnel tun0 local-ip '172.12.1.10'
            set interfaces tunnel tun0 remote-ip '172.12.1.11'
            {(gre ? "set interfaces tunnel tun0 parameters ip key '42'\nset interfaces tunnel tun0 parameters ip checksum\nset interfaces tunnel tun0 parameters ip sequence" : "")}
            set protocols static route 10.1.8.0/24 next-hop 1.1.1.2
            """;
        var config = GatewayConfig.Parse(gw1, "gw1", NullLogger.Instance);
        int underlayMtu = Path == Direction.Encap1500 ? 1600 : 1500;
        PortFacts[] facts = [new PortFacts("eth1", Gw1Eth1Mac, 1500), new PortFacts("eth2", Gw1Eth2Mac, underlayMtu)];
        _state = StateBuilder.Build(config, facts);

        // The 1M-prefix table, every prefix routed into tun0 (a core router sending the Internet through the
        // tunnel), or via gw2 on eth2 for plain forwarding; then the gateway's own connected and local routes
        // again so none is shadowed.
        uint tunnelHop = Path == Direction.Forward
            ? _state.AddNextHop(NextHop.Via(1, 0xAC0C010B))
            : (uint)Array.FindIndex(_state.NextHops, h => h.Kind == NextHopKind.Tunnel);
        var routes = LpmInputs.LoadRoutes();
        var mapped = routes.Select(r => new Route4(r.Prefix, r.Length, tunnelHop)).ToArray();
        _state.Routes.AddRange(mapped);
        var seed = StateBuilder.Build(config, facts);
        foreach (var (prefix, length) in new[] { (0x0A010500u, 24), (0xAC0C0100u, 24), (0x01010100u, 24), (0x0A010501u, 32), (0xAC0C010Au, 32), (0x01010101u, 32) })
        {
            seed.Routes.TryGet(prefix, length, out uint hop);
            _state.Routes.AddOrReplace(prefix, length, hop);
        }
        _state.RefreshAdjacencies();

        var neighbors = new NeighborTable();
        neighbors.AddStatic(1, 0xAC0C010B, Gw2Eth2Mac, 0);
        neighbors.AddStatic(0, 0x0A01050A, Server1Mac, 0);
        _pipeline = new Pipeline(() => _state, neighbors);
        _batch = new PacketBatch(Batch);
        _pool = new FramePool(Batch, 2048);

        // Destinations from the benchmark set that the table routes (10% of the set is uniform noise that may not).
        var destinations = LpmInputs.LoadDestinations(routes).Where(d => _state.Routes.Lookup(d) == tunnelHop).ToArray();
        _originals = new byte[Batch][];
        for (int i = 0; i < Batch; i++)
        {
            uint destination = destinations[i * 7919 % destinations.Length];
            _originals[i] = Path switch
            {
                Direction.Decap => Frame(Gw1Eth2Mac, Gw2Eth2Mac, Ipip(0xAC0C010B, 0xAC0C010A, Udp(0x0A01080A, 0x0A01050A))),
                Direction.Encap1500 => Frame(Gw1Eth1Mac, Server1Mac, Udp(0x0A01050A, destination, 1500)),
                _ => Frame(Gw1Eth1Mac, Server1Mac, Udp(0x0A01050A, destination)),
            };
            ref Frame f = ref _fresh[i];
            _pool.TryRent(ref f);
            f.InPort = (ushort)(Path == Direction.Decap ? 1 : 0);
            f.OutPort = PacketBatch.NoPort;
        }
        Restore();
        _pipeline.Process(_batch, 1);
        _pipeline.Transmitted(_batch);
        int forwarded = 0;
        foreach (ref Frame f in _batch.Frames) if (f.Drop == DropReason.None && f.OutPort != PacketBatch.NoPort) forwarded++;
        if (forwarded != Batch) throw new InvalidOperationException($"setup: only {forwarded} of {Batch} frames forwarded");
    }

    private void Restore()
    {
        _batch.Clear();
        for (int i = 0; i < Batch; i++)
        {
            ref Frame f = ref _batch.Add();
            f = _fresh[i];
            f.Length = _originals[i].Length;
            _originals[i].CopyTo(f.Data);
        }
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int RestoreOnly()
    {
        Restore();
        return _batch.Count;
    }

    [Benchmark(OperationsPerInvoke = Batch, Baseline = true)]
    public long RestoreAndProcess()
    {
        Restore();
        _pipeline.Process(_batch, 1);
        _pipeline.Transmitted(_batch);
        return _pipeline.Counters.Forwarded;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _pipeline.Dispose();
        _pool.Dispose();
    }

    private static byte[] Udp(uint src, uint dst, int length = 20 + 8 + 18) // 64-byte Ethernet frame without FCS
    {
        var p = new byte[length];
        Ipv4Header.Write(p, 0, (ushort)p.Length, 1, true, 64, Ipv4Header.ProtocolUdp, src, dst);
        UdpHeader.Write(p.AsSpan(20), 1234, 5678, src, dst);
        return p;
    }

    private static byte[] Ipip(uint src, uint dst, byte[] inner)
    {
        var p = new byte[20 + inner.Length];
        Ipv4Header.Write(p, 0, (ushort)p.Length, 1, true, 255, Ipv4Header.ProtocolIpip, src, dst);
        inner.CopyTo(p, 20);
        return p;
    }

    private static byte[] Frame(ulong dst, ulong src, byte[] ip)
    {
        var f = new byte[14 + ip.Length];
        NeighborEntry.WriteMac(dst, f);
        NeighborEntry.WriteMac(src, f.AsSpan(6));
        f[12] = 0x08;
        ip.CopyTo(f, 14);
        return f;
    }
}
