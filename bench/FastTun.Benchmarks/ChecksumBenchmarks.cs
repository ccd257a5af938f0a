using BenchmarkDotNet.Attributes;
using FastTun.Packets.Checksum;

namespace FastTun.Benchmarks;

/// <summary>RFC 1071 checksum throughput over buffers hot in cache.</summary>
public class ChecksumBenchmarks
{
    private byte[] _data = [];

    [Params(20, 64, 576, 1500, 9000)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[Size];
        new Random(42).NextBytes(_data);
    }

    [Benchmark(Baseline = true)]
    public uint Scalar() => InternetChecksum.SumScalar(_data);

    [Benchmark]
    public uint Best() => InternetChecksum.Sum(_data);
}
