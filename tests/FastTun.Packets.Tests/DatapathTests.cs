using FastTun.Packets.Datapath;

namespace FastTun.Packets.Tests;

public class DatapathTests
{
    [Theory]
    [InlineData(DropReason.NoTunnel, "no-tunnel")]
    [InlineData(DropReason.BadIpChecksum, "bad-ip-checksum")]
    [InlineData(DropReason.TtlExceeded, "ttl-exceeded")]
    [InlineData(DropReason.GreKeyMismatch, "gre-key-mismatch")]
    public void DropReasonName_Pascal_IsKebab(DropReason reason, string expected) =>
        Assert.Equal(expected, DropReasons.Name(reason));

    [Fact]
    public void DropReasonName_OutOfRange_IsUnknown() =>
        Assert.Equal("unknown", DropReasons.Name((DropReason)9999));

    [Fact]
    public void FramePool_RentAll_ThenExhausted_ThenReturnReuses()
    {
        using var pool = new FramePool(4, 2048, 128);
        var frames = new Frame[4];
        for (int i = 0; i < 4; i++) Assert.True(pool.TryRent(ref frames[i]));
        Frame extra = default;
        Assert.False(pool.TryRent(ref extra));
        Assert.Equal(0, pool.Available);
        Assert.Equal(128, frames[0].Offset);
        Assert.Equal(2048 - 128, frames[0].Tailroom);
        Assert.Equal(4, frames.Select(f => f.Buffer).Distinct().Count());
        pool.Return(frames[2]);
        Assert.True(pool.TryRent(ref extra));
        Assert.Equal(frames[2].Buffer, extra.Buffer);
    }

    [Fact]
    public void FramePool_ReturnForeignFrame_Throws()
    {
        using var a = new FramePool(2);
        using var b = new FramePool(2);
        Frame f = default;
        Assert.True(a.TryRent(ref f));
        Assert.Throws<ArgumentException>(() => b.Return(f));
    }

    [Fact]
    public void Frame_PrependThenTrim_RestoresView()
    {
        using var pool = new FramePool(1);
        Frame f = default;
        Assert.True(pool.TryRent(ref f));
        f.Length = 10;
        f.Data.Fill(0xAB);
        Span<byte> front = f.Prepend(20);
        Assert.Equal(20, front.Length);
        Assert.Equal(30, f.Length);
        Assert.Equal(108, f.Offset);
        f.TrimFront(20);
        Assert.Equal(10, f.Length);
        Assert.All(f.Data.ToArray(), b => Assert.Equal(0xAB, b));
    }

    [Fact]
    public void PacketBatch_Add_ResetsDescriptor()
    {
        var batch = new PacketBatch(2);
        ref Frame f = ref batch.Add();
        f.Drop = DropReason.NoRoute;
        batch.Clear();
        ref Frame g = ref batch.Add();
        Assert.Equal(DropReason.None, g.Drop);
        Assert.Equal(PacketBatch.NoPort, g.OutPort);
        Assert.Throws<ArgumentOutOfRangeException>(() => new PacketBatch(0));
    }
}
