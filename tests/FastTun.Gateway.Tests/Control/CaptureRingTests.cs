using FastTun.Packets.Datapath;

namespace FastTun.Gateway.Tests.Control;

public sealed class CaptureRingTests
{
    /// <summary>The ring against a slow oracle (a bounded queue that counts what it refuses), on random
    /// writes and reads from a fixed seed, frames of random length around the snap length.</summary>
    [Fact]
    public void TryWriteTryPeek_RandomOperations_MatchBoundedQueueOracle()
    {
        var random = new Random(6);
        var ring = new CaptureRing(slots: 8, snapLength: 100);
        var oracle = new Queue<(byte[] Data, int Original, ushort Iface, DropReason Reason, long Ts)>();
        long lost = 0;
        for (int op = 0; op < 20_000; op++)
        {
            if (random.Next(3) != 0)
            {
                var frame = new byte[random.Next(0, 160)];
                random.NextBytes(frame);
                ushort iface = (ushort)random.Next(4);
                var reason = (DropReason)random.Next((int)DropReason.Count);
                long ts = random.NextInt64();
                bool written = ring.TryWrite(frame, iface, reason, ts);
                if (oracle.Count < 8)
                {
                    Assert.True(written);
                    oracle.Enqueue((frame[..Math.Min(frame.Length, 100)], frame.Length, iface, reason, ts));
                }
                else
                {
                    Assert.False(written);
                    lost++;
                }
            }
            else
            {
                bool got = ring.TryPeek(out var f);
                Assert.Equal(oracle.Count > 0, got);
                if (!got) continue;
                var expected = oracle.Dequeue();
                Assert.Equal(expected.Data, f.Data.ToArray());
                Assert.Equal(expected.Original, f.OriginalLength);
                Assert.Equal(expected.Iface, f.Interface);
                Assert.Equal(expected.Reason, f.Reason);
                Assert.Equal(expected.Ts, f.TimestampTicks);
                ring.Release();
            }
        }
        Assert.Equal(lost, ring.Lost);
        Assert.True(lost > 0);
    }

    [Fact]
    public void TryWrite_ConcurrentConsumer_EveryFrameInOrderOrCountedLost()
    {
        var ring = new CaptureRing(slots: 16, snapLength: 64);
        const int total = 200_000;
        var producer = new Thread(() =>
        {
            Span<byte> frame = stackalloc byte[8];
            for (int i = 0; i < total; i++)
            {
                BitConverter.TryWriteBytes(frame, i);
                ring.TryWrite(frame, 0, DropReason.None, i);
            }
        });
        producer.Start();
        long received = 0;
        int last = -1;
        while (producer.IsAlive || ring.TryPeek(out _))
        {
            while (ring.TryPeek(out var f))
            {
                int value = BitConverter.ToInt32(f.Data.Span);
                Assert.True(value > last, $"{value} after {last}");
                Assert.Equal(value, (int)f.TimestampTicks); // the slot was complete when published
                last = value;
                received++;
                ring.Release();
            }
        }
        producer.Join();
        Assert.Equal(total, received + ring.Lost);
    }

    [Fact]
    public void Constructor_SlotsNotPowerOfTwo_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new CaptureRing(slots: 12));

    [Fact]
    public void Tap_DropPoint_CapturesFrameAsReceivedWithReason()
    {
        var ring = new CaptureRing(8, 256);
        var tap = new CaptureTap(CapturePoint.Drop, CaptureTap.AnyInterface, portCount: 2, ring);
        using var pool = new FramePool(4, 256);
        var batch = new PacketBatch(4);
        for (int i = 0; i < 2; i++)
        {
            ref Frame f = ref batch.Add();
            Assert.True(pool.TryRent(ref f));
            f.Length = 60;
            f.Data.Fill((byte)(i + 1));
            f.InPort = (ushort)i;
        }
        tap.BeforeStages(batch);
        batch[0].TrimFront(14); // a stage looked past Ethernet, then dropped it
        batch[0].Drop = DropReason.NoRoute;
        batch[1].OutPort = 0; // forwarded: not a drop
        tap.AfterStages(batch, new PacketBatch(1));
        Assert.True(ring.TryPeek(out var captured));
        Assert.Equal(60, captured.Data.Length);
        Assert.All(captured.Data.ToArray(), b => Assert.Equal(1, b));
        Assert.Equal(DropReason.NoRoute, captured.Reason);
        ring.Release();
        Assert.False(ring.TryPeek(out _));
        for (int i = 0; i < batch.Count; i++) pool.Return(batch[i]);
    }
}
