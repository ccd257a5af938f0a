using System.Text;
using BenchmarkDotNet.Attributes;
using GatewayConfig = FastTun.Gateway.Config.GatewayConfig;
using FastTun.Gateway.Dataplane;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;
using Microsoft.Extensions.Logging.Abstractions;

namespace FastTun.Benchmarks;

/// <summary>
/// A hub with many spokes (#15 item 5): the per-packet cost of decapsulation with 1 and with 10,000 spokes of each
/// mode (IPIP, and GRE with a key per spoke) in one table, on a corpus of 1,024 packets whose senders are spread
/// over every spoke (a prime stride), so the 10,000-spoke figure pays for the table and tunnel state that do not
/// stay in cache; and the time to load the hub's configuration (parse, validate, build the forwarding state).
/// Compare <c>Tunnels=10000</c> against <c>Tunnels=1</c> of the same run.
/// </summary>
[BenchmarkDotNet.Attributes.MedianColumn]
public class HubBenchmarks
{
    private const int Corpus = 1024;
    private const int InnerLength = 64;
    private static readonly uint HubAddress = Ipv4Address.Parse("172.12.1.10");

    [Params(1, 10_000)]
    public int Tunnels { get; set; }

    /// <summary>Spokes <see cref="Retarget"/> draws from (the first ones); 0 = all <see cref="Tunnels"/>. Below all, it
    /// separates what the table's size costs from what the number of spokes a pass touches costs (hub-ratio's
    /// <c>--active N</c>).</summary>
    public int Active { get; set; }

    private FramePool _pool = null!;
    private TunnelTable _table = null!;
    private Frame[] _ipip = null!, _gre = null!, _work = null!;
    private string _config = null!;

    /// <summary>Spoke i's outer address: 10.(i/65536).(i/256).(i%256) + 1 in the low byte's place.</summary>
    public static uint Spoke(int i) => 0x0A000000u | (uint)(i + 1);

    /// <summary>The hub's configuration: eth1, eth2 on the underlay, then <paramref name="spokes"/> IPIP tunnels
    /// (tun0, tun2, …) and as many GRE tunnels with key = index (tun1, tun3, …), every one to its own spoke.</summary>
    public static string HubConfig(int spokes)
    {
        var sb = new StringBuilder();
        sb.Append("set interfaces ethernet eth1 address '10.250.5.1/24'\n");
        sb.Append("set interfaces ethernet eth2 address '172.12.1.10/24'\n");
        sb.Append("set protocols static route 10.0.0.0/9 next-hop 172.12.1.1\n");
        for (int i = 0; i < 2 * spokes; i++)
        {
            string name = $"tun{i}";
            sb.Append("set interfaces tunnel ").Append(name).Append(" encapsulation '").Append(i % 2 == 0 ? "ipip" : "gre").Append("'\n");
            sb.Append("set interfaces tunnel ").Append(name).Append(" local-ip '172.12.1.10'\n");
            sb.Append("set interfaces tunnel ").Append(name).Append(" remote-ip '").Append(Ipv4Address.Format(Spoke(i / 2))).Append("'\n");
            if (i % 2 == 1) sb.Append("set interfaces tunnel ").Append(name).Append(" parameters ip key '").Append(i / 2).Append("'\n");
        }
        return sb.ToString();
    }

    public static readonly PortFacts[] Ports = [new("eth1", 0x020000000001, 1500), new("eth2", 0x020000000002, 1500)];

    /// <summary>Parse, validate and build the forwarding state, as <c>fasttun run</c> and <c>reload</c> do.</summary>
    /// <summary>The hub's forwarding state as a one-worker gateway builds it (tunnels keep one counter line each;
    /// <paramref name="workers"/> as a gateway with that many queues would).</summary>
    public static ForwardingState Load(string text, int workers = 1) =>
        StateBuilder.Build(GatewayConfig.Parse(text, "hub.conf", NullLogger.Instance), Ports, null, out _, null, workers);

    [GlobalSetup]
    public void Setup()
    {
        _pool = new FramePool(Corpus * 2 + 8, 2048, 128);
        var tunnels = new List<Tunnel>();
        for (int i = 0; i < Tunnels; i++)
        {
            // As a one-worker gateway builds them (StateBuilder with the gateway's worker count): one counter line each.
            tunnels.Add(new Tunnel(new TunnelSettings($"tun{2 * i}", TunnelMode.Ipip, HubAddress, Spoke(i)), workers: 1));
            tunnels.Add(new Tunnel(new TunnelSettings($"tun{2 * i + 1}", TunnelMode.Gre, HubAddress, Spoke(i), key: (uint)i), workers: 1));
        }
        _table = new TunnelTable(tunnels);
        _ipip = new Frame[Corpus];
        _gre = new Frame[Corpus];
        var rng = new Random(15);
        for (int j = 0; j < Corpus; j++)
        {
            int spoke = (int)((long)j * 7919 % Tunnels);
            _ipip[j] = Outer(rng, new Tunnel(new TunnelSettings("s", TunnelMode.Ipip, Spoke(spoke), HubAddress)));
            _gre[j] = Outer(rng, new Tunnel(new TunnelSettings("s", TunnelMode.Gre, Spoke(spoke), HubAddress, key: (uint)spoke)));
        }
        _work = new Frame[Corpus];
        _config = HubConfig(Tunnels);
        if (DecapIpip() != Corpus * InnerLength || DecapGreKey() != Corpus * InnerLength
            || DecapIpipBatch() != Corpus * InnerLength || DecapGreKeyBatch() != Corpus * InnerLength)
            throw new InvalidOperationException("hub corpus does not decapsulate");
    }

    private Frame Outer(Random rng, Tunnel sender)
    {
        Frame f = default;
        if (!_pool.TryRent(ref f)) throw new InvalidOperationException("pool exhausted");
        f.Length = InnerLength;
        Span<byte> p = f.Data;
        rng.NextBytes(p);
        Ipv4Header.Write(p, 0, InnerLength, (ushort)rng.Next(0x10000), true, 63, Ipv4Header.ProtocolUdp,
            Ipv4Address.Parse("10.1.5.10"), Ipv4Address.Parse("10.1.8.10"));
        if (TunnelEncap.Encapsulate(sender, ref f) != DropReason.None) throw new InvalidOperationException("setup encap failed");
        return f;
    }

    [GlobalCleanup]
    public void Cleanup() => _pool.Dispose();

    /// <summary>
    /// Gives every packet of both corpora a new spoke drawn at random from all <see cref="Tunnels"/> spokes (outer
    /// source, GRE key, outer header checksum rewritten), as a hub's traffic arrives from any spoke: called between
    /// timed passes (<see cref="HubRatio"/>), so that over a run the 10,000-spoke hub touches every tunnel's state
    /// rather than the same 1,024. The 1-spoke hub gets the same rewrite (of the same values), also untimed.
    /// </summary>
    public void Retarget(Random rng)
    {
        int active = Active is > 0 && Active < Tunnels ? Active : Tunnels;
        for (int j = 0; j < Corpus; j++)
        {
            int spoke = rng.Next(active);
            Rewrite(_ipip[j].Data, spoke, key: false);
            Rewrite(_gre[j].Data, spoke, key: true);
        }
    }

    private static void Rewrite(Span<byte> outer, int spoke, bool key)
    {
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(outer.Slice(Ipv4Header.SourceOffset), Spoke(spoke));
        // The corpus' GRE header carries only a key: it follows the 4-byte base header.
        if (key) System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(outer.Slice(Ipv4Header.MinLength + GreHeader.OptionsOffset), (uint)spoke);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(outer.Slice(Ipv4Header.ChecksumOffset), 0);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(outer.Slice(Ipv4Header.ChecksumOffset),
            (ushort)~Ipv4Header.HeaderSum(outer, Ipv4Header.MinLength));
    }

    [Benchmark(OperationsPerInvoke = Corpus)]
    public long DecapIpip() => Decap(_ipip);

    [Benchmark(OperationsPerInvoke = Corpus)]
    public long DecapGreKey() => Decap(_gre);

    /// <summary>The same corpus 64 frames at a time through the batch decap and its two prefetch passes.</summary>
    [Benchmark(OperationsPerInvoke = Corpus)]
    public long DecapIpipBatch() => TunnelBenchLoops.DecapBatch(_table, _ipip, _work);

    [Benchmark(OperationsPerInvoke = Corpus)]
    public long DecapGreKeyBatch() => TunnelBenchLoops.DecapBatch(_table, _gre, _work);

    /// <summary>Whole configuration load of the hub (2 × <see cref="Tunnels"/> tunnels): one operation.</summary>
    [Benchmark]
    public int LoadConfiguration() => Load(_config).Tunnels.Length;

    private long Decap(Frame[] source) => TunnelBenchLoops.Decap(_table, source, _work);

    /// <summary><c>hub-memory N [WORKERS]</c>: loads a hub of N IPIP + N GRE spokes and prints the managed memory the
    /// forwarding state keeps per tunnel (full GC before and after, the state held alive).</summary>
    private static long RssBytes()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim()) * 1024;
        return 0;
    }

    public static int MeasureMemory(string[] args)
    {
        int spokes = args.Length > 1 && int.TryParse(args[1], out int n) && n > 0 ? n : 10_000;
        int workers = args.Length > 2 && int.TryParse(args[2], out int w) && w > 0 ? w : 1;
        string text = HubConfig(spokes);
        Load(HubConfig(1)); // JIT and static state outside the measurement
        long before = GC.GetTotalMemory(forceFullCollection: true);
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        var config = GatewayConfig.Parse(text, "hub.conf", NullLogger.Instance);
        var parseTime = System.Diagnostics.Stopwatch.GetElapsedTime(t0);
        long afterConfig = GC.GetTotalMemory(forceFullCollection: true);
        long rssBefore = RssBytes();
        t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        var state = StateBuilder.Build(config, Ports, null, out _, null, workers);
        var buildTime = System.Diagnostics.Stopwatch.GetElapsedTime(t0);
        long afterState = GC.GetTotalMemory(forceFullCollection: true);
        long rssAfter = RssBytes();
        // One cold load, for orientation only: LoadConfiguration in the benchmark run is the figure to quote.
        Console.WriteLine($"one cold load: parse+validate {parseTime.TotalMilliseconds:F0} ms, build state {buildTime.TotalMilliseconds:F0} ms");
        int count = state.Tunnels.Length;
        Console.WriteLine($"tunnels {count}, {workers} worker(s)");
        Console.WriteLine($"configuration model: {(afterConfig - before) / (double)count:F0} bytes per tunnel");
        Console.WriteLine($"forwarding state:    {(afterState - afterConfig) / (double)count:F0} bytes per tunnel");
        Console.WriteLine($"total:               {(afterState - before) / (double)count:F0} bytes per tunnel ({(afterState - before) / 1048576.0:F1} MiB)");
        // Native memory is outside the GC's figures: the decap counters (16 B per tunnel and worker, on huge pages,
        // committed 2 MiB at a time) and, for orientation, the process's resident-set growth over the state build.
        Console.WriteLine($"native decap counters: {DecapCounterStore.EntryBytes * workers} bytes per tunnel in use, "
                          + $"{DecapCounterStore.InUse} entries; RSS growth over the build {(rssAfter - rssBefore) / (double)count:F0} bytes per tunnel");
        GC.KeepAlive(config);
        GC.KeepAlive(state);
        return 0;
    }
}
