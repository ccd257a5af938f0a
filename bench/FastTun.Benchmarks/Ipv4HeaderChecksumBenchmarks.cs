using BenchmarkDotNet.Attributes;
using FastTun.Packets.Checksum;
using FastTun.Packets.Datapath;

namespace FastTun.Benchmarks;

/// <summary>
/// Outer IPv4 header checksums over a 64-frame batch (target: at most 1.5 ns per header; DPDK
/// rte_ipv4_cksum takes 3.4 ns for one here). <see cref="FrameSize"/> 2048 puts every header at the same
/// offset of 2 KB-strided buffers, which all map to two L1 sets (64 lines into 16 ways): the headers then
/// come from L2. 2112 (2 KB + one line) spreads them over the sets, as a pool with cache-line colouring would.
/// </summary>
public class Ipv4HeaderChecksumBenchmarks
{
    private const int Frames = 64;
    private FramePool _pool = null!;
    private PacketBatch _batch = null!;
    private nint[] _headers = [];

    [Params(2048, 2112)]
    public int FrameSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _pool = new FramePool(Frames, FrameSize, FramePool.DefaultHeadroom);
        _batch = new PacketBatch(Frames);
        _headers = new nint[Frames];
        var rng = new Random(20);
        for (int i = 0; i < Frames; i++)
        {
            ref Frame f = ref _batch.Add();
            _pool.TryRent(ref f);
            f.Length = 1500;
            Span<byte> data = f.Data;
            rng.NextBytes(data);
            data[0] = 0x45;
            _headers[i] = f.Buffer + f.Offset;
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _pool.Dispose();

    /// <summary>Header by header through the span API, as a stage without the batch helper would.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Frames)]
    public int SingleTryWrite()
    {
        int written = 0;
        for (int i = 0; i < _batch.Count; i++)
            written += Ipv4HeaderChecksum.TryWrite(_batch[i].Data) ? 1 : 0;
        return written;
    }

    /// <summary>The generic RFC 1071 path on the 20 bytes (field cleared first), for comparison.</summary>
    [Benchmark(OperationsPerInvoke = Frames)]
    public int SingleInternetChecksum()
    {
        int sum = 0;
        for (int i = 0; i < _batch.Count; i++)
        {
            Span<byte> header = _batch[i].Data.Slice(0, Ipv4HeaderChecksum.MinHeaderLength);
            header[10] = 0;
            header[11] = 0;
            ushort checksum = InternetChecksum.Compute(header);
            header[10] = (byte)(checksum >> 8);
            header[11] = (byte)checksum;
            sum += checksum;
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Frames)]
    public int BatchPointers()
    {
        Ipv4HeaderChecksum.WriteBatchScalar(_headers);
        return _headers.Length;
    }

    /// <summary>#10 item 1's "outer IPv4 header checksums in one batched SIMD call": eight headers side by side
    /// in AVX2 lanes (<see cref="Ipv4HeaderChecksum.WriteBatchAvx2"/>), against <see cref="BatchPointers"/>.</summary>
    [Benchmark(OperationsPerInvoke = Frames)]
    public int BatchPointersAvx2()
    {
        Ipv4HeaderChecksum.WriteBatchAvx2(_headers);
        return _headers.Length;
    }

    /// <summary>What the encapsulation does instead of any pass over the header: the template's constant partial
    /// sum (version/IHL, protocol, addresses) plus the five words that change per packet (TOS, total length, ID,
    /// flags, TTL), folded and stored. Here TOS and TTL are read from the header (the encap reads them from the
    /// inner header it has in hand) and the ID and length come from the loop, as from the per-worker counter.</summary>
    [Benchmark(OperationsPerInvoke = Frames)]
    public unsafe int TemplateIncremental()
    {
        const uint constantSum = 0x4500u + 4 + 0xAC0C + 0x010A + 0xAC0C + 0x010B;
        nint[] headers = _headers;
        for (int i = 0; i < headers.Length; i++)
        {
            byte* h = (byte*)headers[i];
            uint tos = h[1], ttl = h[8];
            uint total = (uint)(84 + i), id = (uint)(_id++ & 0xFFFF), flags = 0x4000;
            uint sum = constantSum + tos + total + id + flags + (ttl << 8);
            uint checksum = (ushort)~InternetChecksum.Fold(sum);
            h[10] = (byte)(checksum >> 8);
            h[11] = (byte)checksum;
        }
        return headers.Length;
    }

    private int _id = 1;

    [Benchmark(OperationsPerInvoke = Frames)]
    public int BatchFrames()
    {
        Ipv4HeaderChecksum.WriteBatch(_batch);
        return _batch.Count;
    }
}
