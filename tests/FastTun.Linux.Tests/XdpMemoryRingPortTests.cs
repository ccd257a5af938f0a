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
    public unsafe void TxBurst_ZeroCopyCopiedSkippedAndBadFramesMixed_SentInBatchOrderDropsCountedAccountingExact()
    {
        using var umem = new XdpUmem(2048, 1024);
        using var rx = new MemoryRingPort("mem0", 0, umem, 64);
        using var tx = new MemoryRingPort("mem1", 1, umem, 64);
        const int length = 100;
        rx.SetRxTraffic(Templates(1000, length), length, 1000, 64);
        var order = new List<int>();
        // The sequence number of each frame the NIC sends; -1 for a frame too short to hold one.
        tx.Transmitted = (frame, addr) => order.Add(frame.Length >= SeqOffset + 4 ? BinaryPrimitives.ReadInt32BigEndian(frame[SeqOffset..]) : -1);
        var received = new PacketBatch(32);
        while (!received.IsFull) rx.RxBurst(received);
        // Buffers from elsewhere (a pool, another UMEM) take the copy path; their sequence numbers start at 5000.
        byte* foreign = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(32 * 256);
        try
        {
            var mixed = new PacketBatch(64);
            var expected = new List<int>();
            long expectDropped = 0, expectCopied = 0;
            for (int i = 0; i < received.Count; i++)
            {
                ref Frame f = ref mixed.Add();
                f = received[i];
                int seq = BinaryPrimitives.ReadInt32BigEndian(f.Data[SeqOffset..]);
                f.OutPort = 1;
                switch (i % 6)
                {
                    case 0: f.OutPort = 0; break;                 // for the other port: skipped, freed by RxDone
                    case 1: f.Drop = DropReason.NoRoute; break;   // dropped by the pipeline: skipped
                    case 2:                                       // a range past its chunk: copied, not zero-copy
                        f.Offset = 2048 - 10;  // (the frames are low chunks: the copy reads the next one)
                        f.Length = 20;
                        expected.Add(-1);
                        expectCopied++;
                        break;
                    case 3: f.Length = 0; expectDropped++; break; // truncated: dropped and counted
                    default: expected.Add(seq); break;             // zero-copy
                }
                if (i % 6 == 4)
                {
                    byte* buf = foreign + i * 256;
                    BinaryPrimitives.WriteInt32BigEndian(new Span<byte>(buf + 64 + SeqOffset, 4), 5000 + i);
                    ref Frame g = ref mixed.Add();
                    g.Buffer = (nint)buf;
                    g.Offset = 64;
                    g.Length = length;
                    g.Capacity = 256;
                    g.InPort = 7;
                    g.OutPort = 1;
                    g.Flags = FrameFlags.Generated;
                    expected.Add(5000 + i);
                    expectCopied++;
                }
            }
            Assert.Equal(expected.Count, tx.TxBurst(mixed));
            Assert.Equal(expected, order); // in batch order: the copies between the zero-copy frames
            Assert.Equal(expectDropped, tx.Counters.TxDropped);
            Assert.Equal(expectCopied, tx.Counters.TxCopied);
            rx.RxDone(mixed);
            tx.Flush();
            tx.Flush();
            var a = umem.Accounting();
            Assert.Equal((0L, a.Total, 0), (a.Violations, a.Sum, a.Application + a.TxRing + a.KernelTx + a.CompletionRing));
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.Free(foreign);
        }
    }

    [Fact]
    public void TxBurst_TxRingFull_RestDroppedCountedFreedByRxDone()
    {
        using var umem = new XdpUmem(2048, 1024);
        using var rx = new MemoryRingPort("mem0", 0, umem, 128);
        using var tx = new MemoryRingPort("mem1", 1, umem, 8);
        rx.SetRxTraffic(Templates(1, 64), 64, 1, 64);
        var batch = new PacketBatch(64);
        while (!batch.IsFull) rx.RxBurst(batch);
        foreach (ref Frame f in batch.Frames) f.OutPort = 1;
        Assert.Equal(8, tx.TxBurst(batch));
        for (int i = 0; i < batch.Count; i++)
        {
            Assert.Equal(i < 8, (batch[i].Flags & FrameFlags.TxOwned) != 0);
            Assert.Equal(i < 8 ? DropReason.None : DropReason.TxRingFull, batch[i].Drop);
        }
        Assert.Equal(56, tx.Counters.TxDropped);
        rx.RxDone(batch);
        tx.Flush();
        tx.Flush();
        var a = umem.Accounting();
        Assert.Equal((0L, a.Total, 0), (a.Violations, a.Sum, a.Application + a.TxRing + a.KernelTx + a.CompletionRing));
        Assert.Equal(8, tx.NicTxPackets);
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
