using System.Diagnostics;
using FastTun.Linux.AfXdp;
using FastTun.Linux.Interop;
using FastTun.Linux.Tests.Net;
using FastTun.Packets.Datapath;
using static FastTun.Linux.Tests.AfXdpTestSupport;

namespace FastTun.Linux.Tests;

/// <summary>
/// AF_XDP ports on veth pairs, in native (driver) and generic (skb) XDP mode: frames sent by an AF_PACKET
/// socket on the peer arrive through RxBurst, frames sent through TxBurst arrive at the peer, each exactly
/// once and intact; rings overflow into counted drops; every UMEM frame is accounted for afterwards.
/// </summary>
public sealed class AfXdpPortTests
{

    [RootTheory]
    [InlineData(XdpAttachMode.Native, 64)]
    [InlineData(XdpAttachMode.Native, 1514)]
    [InlineData(XdpAttachMode.Generic, 64)]
    [InlineData(XdpAttachMode.Generic, 1514)]
    public void RxBurst_ThreeRingsOfFramesFromPeer_EachArrivesOnceIntact(XdpAttachMode mode, int length)
    {
        using var veth = new VethPair();
        using var port = new AfXdpPort(veth.A, 0, 7, SmallRings(mode));
        using var peer = new XdpPeerSocket(veth.B);
        Assert.Equal(mode, port.AttachMode);
        Assert.Equal(XdpCopyMode.Copy, port.CopyMode); // veth has no zero-copy support
        var batch = new PacketBatch(64);
        var seen = new bool[3 * 256];
        var frame = new byte[length];
        int received = 0;
        for (uint seq = 0; seq < seen.Length; seq++)
        {
            XdpPeerSocket.Build(frame, seq);
            peer.Send(frame);
            if (seq % 64 == 63) received += Drain(port, batch, length, seen, (int)seq + 1, 7);
        }
        Assert.Equal(seen.Length, received);
        Assert.All(seen, Assert.True);
        Assert.Equal(seen.Length, port.Counters.RxPackets);
        Assert.Equal((long)seen.Length * length, port.Counters.RxBytes);
        AssertAllFramesAccounted(port);
    }

    [RootTheory]
    [InlineData(XdpAttachMode.Native)]
    [InlineData(XdpAttachMode.Generic)]
    public void RxBurst_BurstOfFourRingsNotDrained_ExcessCountedAsKernelDrops(XdpAttachMode mode)
    {
        using var veth = new VethPair();
        var options = SmallRings(mode);
        using var port = new AfXdpPort(veth.A, 0, 1, options);
        using var peer = new XdpPeerSocket(veth.B);
        var frame = new byte[64];
        int sent = 4 * options.RxRingSize;
        for (uint seq = 0; seq < sent; seq++)
        {
            XdpPeerSocket.Build(frame, seq);
            peer.Send(frame);
        }
        var batch = new PacketBatch(64);
        var seen = new bool[sent];
        // Everything that made it into the rx ring is there already; draining stops when the kernel's drop
        // counters explain the rest.
        int received = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < Patience)
        {
            received += Drain(port, batch, 64, seen, 0, 1);
            xdp_statistics s = port.ReadStatistics();
            if (received + (long)(s.rx_ring_full + s.rx_dropped) >= sent) break;
        }
        xdp_statistics stats = port.ReadStatistics();
        Assert.InRange(received, 1, options.RxRingSize);
        Assert.Equal(sent, received + (long)(stats.rx_ring_full + stats.rx_dropped));
        port.UpdateDropCounters();
        Assert.Equal(sent - received, port.Counters.RxDropped);
        AssertAllFramesAccounted(port);
    }

    [RootTheory]
    [InlineData(XdpAttachMode.Native, 64)]
    [InlineData(XdpAttachMode.Native, 1514)]
    [InlineData(XdpAttachMode.Generic, 64)]
    [InlineData(XdpAttachMode.Generic, 1514)]
    public void TxBurst_ThreeRingsOfPoolFrames_EachArrivesAtPeerOnceIntact(XdpAttachMode mode, int length)
    {
        using var veth = new VethPair();
        using var port = new AfXdpPort(veth.A, 0, 3, SmallRings(mode));
        using var peer = new XdpPeerSocket(veth.B);
        using var pool = new FramePool(64);
        var batch = new PacketBatch(64);
        int total = 3 * 256;
        var seen = new bool[total];
        int arrived = 0;
        for (uint seq = 0; seq < total; seq += 64)
        {
            batch.Clear();
            for (uint i = 0; i < 64; i++)
            {
                ref Frame f = ref batch.Add();
                Assert.True(pool.TryRent(ref f));
                f.Length = length;
                XdpPeerSocket.Build(f.Data, seq + i);
                f.OutPort = 3;
            }
            Assert.Equal(64, port.TxBurst(batch));
            foreach (ref Frame f in batch.Frames)
            {
                Assert.Equal(FrameFlags.None, f.Flags & FrameFlags.TxOwned); // a pool frame is copied, not lent
                pool.Return(f);
            }
            arrived += ReceiveAtPeer(peer, port, length, seen, arrived + 64);
        }
        Assert.Equal(total, arrived);
        Assert.All(seen, Assert.True);
        Assert.Equal(total, port.Counters.TxPackets);
        Assert.Equal(0, port.Counters.TxDropped);
        Assert.True(port.Counters.Syscalls <= total / 64 + port.Counters.RxBatches + 64,
            $"{port.Counters.Syscalls} syscalls for {total / 64} tx batches");
        AssertAllFramesAccounted(port);
    }

    [RootFact]
    public void TxBurst_BatchLargerThanTxRing_ExcessMarkedTxRingFull()
    {
        using var veth = new VethPair();
        var options = SmallRings(XdpAttachMode.Generic) with { TxRingSize = 64, CompletionRingSize = 64 };
        using var port = new AfXdpPort(veth.A, 0, 2, options);
        using var pool = new FramePool(256);
        var batch = new PacketBatch(256);
        for (uint i = 0; i < 256; i++)
        {
            ref Frame f = ref batch.Add();
            Assert.True(pool.TryRent(ref f));
            f.Length = 64;
            XdpPeerSocket.Build(f.Data, i);
            f.OutPort = 2;
        }
        Assert.Equal(64, port.TxBurst(batch));
        Assert.Equal(192, port.Counters.TxDropped);
        for (int i = 0; i < 256; i++)
            Assert.Equal(i < 64 ? DropReason.None : DropReason.TxRingFull, batch[i].Drop);
        Settle(port);
        AssertAllFramesAccounted(port);
    }

    [RootTheory]
    [InlineData(XdpAttachMode.Native)]
    [InlineData(XdpAttachMode.Generic)]
    public void TxBurst_ReflectedRxFrames_SentZeroCopyFromOwnUmemAndAccounted(XdpAttachMode mode)
    {
        using var veth = new VethPair();
        using var port = new AfXdpPort(veth.A, 0, 5, SmallRings(mode));
        using var peer = new XdpPeerSocket(veth.B);
        var batch = new PacketBatch(64);
        var frame = new byte[1514];
        int total = 1024, reflected = 0, arrived = 0;
        var seen = new bool[total];
        var clock = Stopwatch.StartNew();
        for (uint seq = 0; seq < total; seq += 32)
        {
            for (uint i = 0; i < 32; i++)
            {
                XdpPeerSocket.Build(frame, seq + i);
                peer.Send(frame);
            }
            int target = (int)seq + 32;
            while (reflected < target && clock.Elapsed < Patience)
            {
                batch.Clear();
                int n = port.RxBurst(batch);
                foreach (ref Frame f in batch.Frames) f.OutPort = 5;
                Assert.Equal(n, port.TxBurst(batch));
                foreach (ref Frame f in batch.Frames) Assert.True((f.Flags & FrameFlags.TxOwned) != 0);
                port.RxDone(batch);
                reflected += n;
            }
            arrived += ReceiveAtPeer(peer, port, 1514, seen, target);
        }
        Assert.Equal(total, reflected);
        Assert.Equal(total, arrived);
        Assert.All(seen, Assert.True);
        Settle(port);
        AssertAllFramesAccounted(port);
    }

    [RootFact]
    public void RxBurst_TwoQueueVethNativeOnePortPerQueue_FlowsSpreadAndAllArrive()
    {
        var (q0, q1) = ReceiveOnTwoQueues(XdpAttachMode.Native);
        Assert.True(q0 > 0 && q1 > 0, $"queue 0 got {q0}, queue 1 got {q1}");
    }

    /// <summary>Generic XDP reads the rx queue from skb->queue_mapping, which veth leaves as the sender's tx
    /// queue without the "recorded" offset: every frame shows up as rx queue 0 (Linux 6.18, with or without
    /// GRO). A gateway on veth in generic mode therefore needs one worker, not one per queue.</summary>
    [RootFact]
    public void RxBurst_TwoQueueVethGenericOnePortPerQueue_AllArriveOnQueueZero()
    {
        var (q0, q1) = ReceiveOnTwoQueues(XdpAttachMode.Generic);
        Assert.Equal((1024, 0), (q0, q1));
    }

    private static (int Queue0, int Queue1) ReceiveOnTwoQueues(XdpAttachMode mode)
    {
        using var veth = new VethPair(queues: 2);
        var options = SmallRings(mode) with { MaxQueues = 2 };
        using var port0 = new AfXdpPort(veth.A, 0, 0, options);
        using var port1 = new AfXdpPort(veth.A, 1, 1, options);
        using var peer = new XdpPeerSocket(veth.B);
        var batch = new PacketBatch(64);
        var frame = new byte[128];
        var seen = new bool[1024];
        int received0 = 0, received1 = 0;
        for (uint seq = 0; seq < seen.Length; seq++)
        {
            XdpPeerSocket.Build(frame, seq, flows: 256);
            peer.Send(frame);
            if (seq % 64 != 63) continue;
            var clock = Stopwatch.StartNew();
            while (received0 + received1 < seq + 1 && clock.Elapsed < Patience)
            {
                received0 += Drain(port0, batch, 128, seen, 0, 0);
                received1 += Drain(port1, batch, 128, seen, 0, 1);
            }
        }
        Assert.Equal(seen.Length, received0 + received1);
        Assert.All(seen, Assert.True);
        AssertAllFramesAccounted(port0);
        AssertAllFramesAccounted(port1);
        return (received0, received1);
    }

    [RootFact]
    public void TxBurst_OwnFrameGrownPastItsChunkOrEmpty_DroppedAndReturnedByRxDone()
    {
        using var veth = new VethPair();
        using var port = new AfXdpPort(veth.A, 0, 6, SmallRings(XdpAttachMode.Native));
        using var peer = new XdpPeerSocket(veth.B);
        var frame = new byte[64];
        for (uint seq = 0; seq < 2; seq++)
        {
            XdpPeerSocket.Build(frame, seq);
            peer.Send(frame);
        }
        var batch = new PacketBatch(64);
        var clock = Stopwatch.StartNew();
        while (batch.Count < 2 && clock.Elapsed < Patience) port.RxBurst(batch);
        Assert.Equal(2, batch.Count);
        batch[0].Length = port.FrameSize - batch[0].Offset + 1; // would leave the UMEM chunk
        batch[1].Length = 0;
        foreach (ref Frame f in batch.Frames) f.OutPort = 6;
        Assert.Equal(0, port.TxBurst(batch));
        Assert.Equal((DropReason.TxTooLarge, DropReason.Truncated), (batch[0].Drop, batch[1].Drop));
        Assert.Equal(2, port.Counters.TxDropped);
        Assert.All(batch.Frames.ToArray(), f => Assert.Equal(FrameFlags.None, f.Flags & FrameFlags.TxOwned));
        Assert.Equal(2, port.Accounting().Application);
        port.RxDone(batch);
        AssertAllFramesAccounted(port);
    }

    [RootFact]
    public void RxBurstTxBurstRxDone_SteadyStateReflect_AllocateNothing()
    {
        using var veth = new VethPair();
        using var port = new AfXdpPort(veth.A, 0, 8, SmallRings(XdpAttachMode.Native));
        using var peer = new XdpPeerSocket(veth.B);
        var batch = new PacketBatch(64);
        var frame = new byte[64];
        long allocated = 0;
        int reflected = 0;
        for (int round = 0; round < 2; round++) // round 0 warms up (JIT, tiering), round 1 is measured
        {
            for (uint seq = 0; seq < 256; seq++)
            {
                XdpPeerSocket.Build(frame, seq);
                peer.Send(frame);
            }
            var clock = Stopwatch.StartNew();
            int got = 0;
            long before = GC.GetAllocatedBytesForCurrentThread();
            while (got < 256 && clock.Elapsed < Patience)
            {
                batch.Clear();
                int n = port.RxBurst(batch);
                for (int i = 0; i < n; i++) batch[i].OutPort = 8;
                port.TxBurst(batch);
                port.RxDone(batch);
                port.Flush();
                got += n;
            }
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            reflected += got;
        }
        Assert.Equal(512, reflected);
        Assert.Equal(0, allocated);
        AssertAllFramesAccounted(port);
    }

    [RootFact]
    public void Constructor_ZeroCopyOnVeth_ThrowsNamingInterface()
    {
        using var veth = new VethPair();
        var ex = Assert.Throws<LinuxException>(() =>
            new AfXdpPort(veth.A, 0, 0, SmallRings(XdpAttachMode.Native) with { CopyMode = XdpCopyMode.ZeroCopy }));
        Assert.Contains(veth.A, ex.Message);
        Assert.Contains("zero-copy", ex.Message);
        AfXdpTestSupport.AssertDetached(veth.A);
    }

    [RootFact]
    public void Constructor_MissingInterface_ThrowsNamingInterface()
    {
        var ex = Assert.Throws<LinuxException>(() => new AfXdpPort("ftNoSuchIf9", 0, 0));
        Assert.Contains("ftNoSuchIf9", ex.Message);
    }
}
