using System.Buffers.Binary;
using FastTun.Packets.Datapath;

namespace FastTun.Traffic.Tests;

public class TrafficPayloadTests
{
    [Fact]
    public void Write_ThenTryParse_RoundTripsEveryField()
    {
        var rng = new Random(2544);
        var buffer = new byte[40];
        for (int i = 0; i < 1000; i++)
        {
            ushort flow = (ushort)rng.Next(0, 65536);
            ulong seq = (ulong)rng.NextInt64() ^ ((ulong)rng.Next() << 40);
            long ts = rng.NextInt64();
            TrafficPayload.Write(buffer, flow, seq, ts);
            Assert.True(TrafficPayload.TryParse(buffer, out var p));
            Assert.Equal(flow, p.Flow);
            Assert.Equal(seq, p.Sequence);
            Assert.Equal(ts, p.Timestamp);
        }
    }

    [Fact]
    public void TryParse_WrongMagicOrShort_ReturnsFalse()
    {
        var buffer = new byte[TrafficPayload.Length];
        TrafficPayload.Write(buffer, 1, 2, 3);
        Assert.False(TrafficPayload.TryParse(buffer.AsSpan(0, TrafficPayload.Length - 1), out _));
        buffer[0] ^= 0x80;
        Assert.False(TrafficPayload.TryParse(buffer, out _));
    }

    [Fact]
    public void Patch_ReturnsTheWordSumOfTheWrittenFields()
    {
        var rng = new Random(7);
        var buffer = new byte[TrafficPayload.Length];
        for (int i = 0; i < 1000; i++)
        {
            ulong seq = (ulong)rng.NextInt64();
            long ts = rng.NextInt64();
            uint sum = TrafficPayload.Patch(buffer, seq, ts);
            uint oracle = 0;
            for (int o = TrafficPayload.SequenceOffset; o < TrafficPayload.Length; o += 2)
                oracle += BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(o));
            Assert.Equal(oracle, sum);
        }
    }
}
