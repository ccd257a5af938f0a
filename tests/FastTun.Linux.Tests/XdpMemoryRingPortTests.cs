using System.Buffers.Binary;
using FastTun.Linux.AfXdp;
using FastTun.Linux.Ports;
using FastTun.Packets.Datapath;

namespace FastTun.Linux.Tests;

/// <summary>
/// The memory-ring port: a zero-copy NIC queue over memory. Frames its NIC receives are forwarded to a second
/// port on the same UMEM as descriptors (same UMEM address out as in, nothing copied), the UMEM accounting stays
/// exact, and the copy path for frames from elsewhere is the slow oracle the zero-copy path is compared with.
/// </summary>
public sealed class XdpMemoryRingPortTests
{
    private const int SeqOffset = 30; // inside the IPv4 header region the NIC rewrites

    private static byte[] Templates(int count, int length)
    {
        var t = new byte[count * length];
        for (int i = 0; i < count; i++)
        {
            var f = t.AsSpan(i * length, length);
            for (int j = 0; j < length; j++) f[j] = (byte)(j * 7 + 3); // same payload in every template
            BinaryPrimitives.WriteInt32BigEndian(f[SeqOffset..], i);
        }
        return t;
    }

    [Theory]
    [InlineData(64)]
    [InlineData(1500)]
    public void TxBurst_FramesReceivedOnPortSharingUmem_SentAsSameDescriptorNoCopyAccountingExact(int length)
    {
        using var umem = new XdpUmem(2048, 2048);
        using var rx = new MemoryRingPort("mem0", 0, umem, 128);
        using var tx = new MemoryRingPort("mem1", 1, umem, 128);
        const int templates = 5;
        byte[] t = Templates(templates, length);
        rx.SetRxTraffic(t, length, templates, 64);
        var expectedAddresses = new Queue<ulong>();
        long sent = 0, received = 0;
        tx.Transmitted = (frame, addr) =>
        {
            Assert.Equal(expectedAddresses.Dequeue(), addr); // the very buffer that was received
            int seq = BinaryPrimitives.ReadInt32BigEndian(frame[SeqOffset..]);
            Assert.Equal((int)(sent % templates), seq);
            Assert.True(frame.SequenceEqual(t.AsSpan(seq * length, length)), "frame changed on the way");
            sent++;
        };
        var batch = new PacketBatch(64);
        while (received < 20_000)
        {
            batch.Clear();
            int n = rx.RxBurst(batch);
            foreach (ref Frame f in batch.Frames)
            {
                Assert.Equal(0, f.InPort);
                expectedAddresses.Enqueue(f.Handle + (ulong)f.Offset);
                f.OutPort = 1;
            }
            Assert.Equal(n, tx.TxBurst(batch));
            foreach (ref Frame f in batch.Frames) Assert.NotEqual(FrameFlags.None, f.Flags & FrameFlags.TxOwned);
            rx.RxDone(batch);
            received += n;
        }
        tx.Flush(); // the NIC completes what is left in the tx ring
        tx.Flush(); // and the port reaps those completions
        Assert.Equal(received, sent);
        Assert.Equal(received, tx.NicTxPackets);
        Assert.Equal(0, tx.Counters.TxCopied);
        Assert.Equal(0, tx.Counters.TxDropped);
        UmemAccounting a = umem.Accounting();
        Assert.Equal(0, a.Violations);
        Assert.Equal(a.Total, a.Sum);
        Assert.Equal(0, a.Application + a.TxRing + a.KernelTx + a.CompletionRing);
        Assert.Equal(a.Total - a.FillRing - a.RxRing, a.Free);
        // The NIC received exactly what is now sent or still waiting in the rx ring.
        Assert.Equal(rx.NicRxPackets, sent + a.RxRing);
    }

    [Fact]
    public void TxBurst_FramesFromAnotherUmem_CopiedCountedAndIntact()
    {
        using var umemA = new XdpUmem(2048, 1024);
        using var umemB = new XdpUmem(2048, 1024);
        using var rx = new MemoryRingPort("mem0", 0, umemA, 64);
        using var tx = new MemoryRingPort("mem1", 1, umemB, 64);
        byte[] t = Templates(3, 200);
        rx.SetRxTraffic(t, 200, 3, 64);
        long sent = 0;
        tx.Transmitted = (frame, addr) =>
        {
            Assert.True(frame.SequenceEqual(t.AsSpan((int)(sent % 3) * 200, 200)));
            sent++;
        };
        var batch = new PacketBatch(64);
        long received = 0;
        while (received < 1000)
        {
            batch.Clear();
            int n = rx.RxBurst(batch);
            foreach (ref Frame f in batch.Frames) f.OutPort = 1;
            Assert.Equal(n, tx.TxBurst(batch));
            foreach (ref Frame f in batch.Frames) Assert.Equal(FrameFlags.None, f.Flags & FrameFlags.TxOwned);
            rx.RxDone(batch);
            received += n;
        }
        tx.Flush();
        tx.Flush();
        Assert.Equal(received, sent);
        Assert.Equal(received, tx.Counters.TxCopied);
        foreach (var u in new[] { umemA, umemB })
        {
            var a = u.Accounting();
            Assert.Equal((0L, a.Total, 0), (a.Violations, a.Sum, a.Application + a.TxRing + a.CompletionRing));
        }
    }

    [Fact]
    public void RxDone_FrameReturnedTwice_CountedAsViolationNotFreedTwice()
    {
        using var umem = new XdpUmem(2048, 1024);
        using var port = new MemoryRingPort("mem0", 0, umem, 64);
        port.SetRxTraffic(Templates(1, 64), 64, 1, 64);
        var batch = new PacketBatch(8);
        while (port.RxBurst(batch) == 0) { }
        port.RxDone(batch);
        port.RxDone(batch);
        var a = umem.Accounting();
        Assert.Equal(batch.Count, a.Violations);
        Assert.Equal(a.Total, a.Sum);
    }

    [Fact]
    public void SetRxTraffic_TemplatesDifferBeyondHeaders_ThrowsNamingPort()
    {
        using var umem = new XdpUmem(2048, 1024);
        using var port = new MemoryRingPort("mem7", 0, umem, 64);
        byte[] t = Templates(2, 128);
        t[128 + 100] ^= 1;
        var ex = Assert.Throws<ArgumentException>(() => port.SetRxTraffic(t, 128, 2, 64));
        Assert.Contains("mem7", ex.Message);
    }

    [Fact]
    public void Constructor_UmemTooSmallForAnotherFillRing_Throws()
    {
        using var umem = new XdpUmem(2048, 1024);
        using var first = new MemoryRingPort("mem0", 0, umem, 128);
        Assert.Throws<ArgumentOutOfRangeException>(() => new MemoryRingPort("mem1", 1, umem, 256));
        Assert.Single(umem.Ports);
    }
}
