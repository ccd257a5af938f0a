using BenchmarkDotNet.Attributes;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using FastTun.Packets.Routing;

namespace FastTun.Benchmarks;

/// <summary>
/// The ECMP hook's cost per packet (config's one call in Pipeline.Forward): <see cref="PlainHop"/> is what every
/// packet of a single-path route pays (the anchor); <see cref="TwoPathGroup"/> and <see cref="FourPathGroup"/>
/// add the 5-tuple hash and the hash-threshold pick. 64 UDP packets of different flows per invocation.
/// </summary>
[MemoryDiagnoser]
public class MultipathBenchmarks
{
    private const int Batch = 64;
    private ForwardingState _state = null!;
    private byte[][] _packets = [];

    [GlobalSetup]
    public void Setup()
    {
        NextHop[][] groups = [[NextHop.Into(0), NextHop.Into(1)], [NextHop.Into(0), NextHop.Into(1), NextHop.Into(2), NextHop.Into(3)]];
        _state = new ForwardingState(new Lpm4Table(), [NextHop.Into(0), NextHop.OneOf(0), NextHop.OneOf(1)], [], [],
            new FastTun.Packets.Tunnels.TunnelTable(), groups);
        var rng = new Random(14);
        _packets = new byte[Batch][];
        for (int i = 0; i < Batch; i++)
        {
            var p = new byte[28 + 18];
            Ipv4Header.Write(p, 0, (ushort)p.Length, 1, true, 64, Ipv4Header.ProtocolUdp, 0x0A010500u + (uint)rng.Next(256), 0x0A010800u + (uint)rng.Next(256));
            UdpHeader.Write(p.AsSpan(20), (ushort)rng.Next(1024, 65535), 443, 0, 0);
            _packets[i] = p;
        }
    }

    private int Run(int hopIndex)
    {
        var hops = _state.NextHops;
        int sum = 0;
        for (int i = 0; i < Batch; i++) sum += Multipath.Select(_state, in hops[hopIndex], _packets[i]).Tunnel;
        return sum;
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public int PlainHop() => Run(0);

    [Benchmark(OperationsPerInvoke = Batch)]
    public int TwoPathGroup() => Run(1);

    [Benchmark(OperationsPerInvoke = Batch)]
    public int FourPathGroup() => Run(2);
}
