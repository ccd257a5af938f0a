using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using FastTun.Packets.Checksum;
using FastTun.Packets.Datapath;

namespace FastTun.Benchmarks;

/// <summary>
/// Forwarding TTL decrement over 64 headers: RFC 1624 incremental patch against a full header recompute.
/// Every variant restores the TTL afterwards (one byte store) so each invocation sees the same input.
/// </summary>
public class IncrementalChecksumBenchmarks
{
    private const int Frames = 64;
    private FramePool _pool = null!;
    private PacketBatch _batch = null!;

    [GlobalSetup]
    public void Setup()
    {
        // 2112-byte frames: see Ipv4HeaderChecksumBenchmarks for why not 2048.
        _pool = new FramePool(Frames, 2112, FramePool.DefaultHeadroom);
        _batch = new PacketBatch(Frames);
        var rng = new Random(64);
        for (int i = 0; i < Frames; i++)
        {
            ref Frame f = ref _batch.Add();
            _pool.TryRent(ref f);
            f.Length = 1500;
            Span<byte> data = f.Data;
            rng.NextBytes(data);
            data[0] = 0x45;
            data[8] = 64;
            Ipv4HeaderChecksum.TryWrite(data);
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _pool.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Frames)]
    public int FullRecompute()
    {
        int forwarded = 0;
        for (int i = 0; i < _batch.Count; i++)
        {
            Span<byte> header = _batch[i].Data;
            header[8]--;
            forwarded += Ipv4HeaderChecksum.TryWrite(header) ? 1 : 0;
            header[8] = 64;
        }
        return forwarded;
    }

    [Benchmark(OperationsPerInvoke = Frames)]
    public int IncrementalTtl()
    {
        int forwarded = 0;
        for (int i = 0; i < _batch.Count; i++)
        {
            Span<byte> header = _batch[i].Data;
            forwarded += IncrementalChecksum.TryDecrementTtl(header) ? 1 : 0;
            header[8] = 64;
        }
        return forwarded;
    }

    /// <summary>Generic eqn. 3 on the TTL/protocol word, as a caller without the TTL helper would write it.</summary>
    [Benchmark(OperationsPerInvoke = Frames)]
    public int IncrementalUpdate16()
    {
        int forwarded = 0;
        for (int i = 0; i < _batch.Count; i++)
        {
            Span<byte> header = _batch[i].Data;
            ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(header.Slice(8));
            ushort newWord = (ushort)(oldWord - 0x100);
            BinaryPrimitives.WriteUInt16BigEndian(header.Slice(8), newWord);
            ushort checksum = IncrementalChecksum.Update16(BinaryPrimitives.ReadUInt16BigEndian(header.Slice(10)), oldWord, newWord);
            BinaryPrimitives.WriteUInt16BigEndian(header.Slice(10), checksum);
            forwarded += checksum;
            header[8] = 64;
        }
        return forwarded;
    }
}
