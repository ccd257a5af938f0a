using System.Diagnostics;
using FastTun.Linux.AfPacket;
using FastTun.Linux.Interop;
using FastTun.Linux.Netlink;
using FastTun.Linux.Tests.Net;
using FastTun.Packets.Datapath;

namespace FastTun.Linux.Tests;

/// <summary>AfPacketPort on veth pairs against plain AF_PACKET sockets (root).</summary>
public class AfPacketPortTests
{
    /// <summary>Receives until <paramref name="expected"/> test frames arrived or the (generous, failure-only)
    /// deadline passed, polling the port's fd when idle. Returns the sequence numbers in arrival order.</summary>
    internal static List<int> Drain(AfPacketPort port, int expected, int deadlineMs = 5000, Action<Frame>? check = null)
    {
        var seqs = new List<int>();
        var batch = new PacketBatch(64);
        var sw = Stopwatch.StartNew();
        while (seqs.Count < expected && sw.ElapsedMilliseconds < deadlineMs)
        {
            batch.Clear();
            if (port.RxBurst(batch) == 0)
            {
                Poll(port.PollFd, 20);
                continue;
            }
            foreach (ref Frame f in batch.Frames)
            {
                Assert.Equal(port.Id, f.InPort);
                check?.Invoke(f);
                int seq = TestFrames.SeqOf(f.Data);
                if (seq >= 0) seqs.Add(seq);
            }
            port.RxDone(batch);
        }
        return seqs;
    }

    internal static unsafe void Poll(int fd, int ms)
    {
        var pfd = new Libc.pollfd { fd = fd, events = Libc.POLLIN };
        Libc.poll(&pfd, 1, ms);
    }

    [RootTheory]
    [InlineData(64)]
    [InlineData(1514)]
    public void RxBurst_FramesFromPeer_AllReceivedInOrderWithHeadroom(int size)
    {
        using var veth = new VethPair();
        using var port = new AfPacketPort(veth.A, id: 3);
        using var peer = new RawPacketSocket(veth.B);
        const int count = 300;
        var sent = new byte[count][];
        for (int i = 0; i < count; i++) peer.Send(sent[i] = TestFrames.Udp(i, size));

        var got = Drain(port, count, check: f =>
        {
            Assert.True(f.Offset >= 128, $"headroom {f.Offset}");
            Assert.True(f.Offset >= port.Headroom);
            int seq = TestFrames.SeqOf(f.Data);
            if (seq >= 0) Assert.True(f.Data.SequenceEqual(sent[seq]), $"frame {seq} differs");
        });
        Assert.Equal(Enumerable.Range(0, count), got);
        Assert.True(port.Counters.RxPackets >= count);
        Assert.Equal(0, port.OffloadDropped);
    }

    [RootTheory]
    [InlineData(64, AfPacketTxMode.Ring)]
    [InlineData(1514, AfPacketTxMode.Ring)]
    [InlineData(64, AfPacketTxMode.SendMmsg)]
    [InlineData(1514, AfPacketTxMode.SendMmsg)]
    public void TxBurst_FramesThroughPort_ReceivedByPeerUnchanged(int size, AfPacketTxMode mode)
    {
        using var veth = new VethPair();
        using var port = new AfPacketPort(veth.A, id: 1, new AfPacketOptions { TxMode = mode });
        using var peer = new RawPacketSocket(veth.B);
        var batch = new PacketBatch(64);
        using var pool = new FramePool(64);
        const int count = 256;
        var sent = new byte[count][];
        for (int b = 0; b < count / 64; b++)
        {
            batch.Clear();
            for (int i = 0; i < 64; i++)
            {
                int seq = b * 64 + i;
                ref Frame f = ref batch.Add();
                Assert.True(pool.TryRent(ref f));
                sent[seq] = TestFrames.Udp(seq, size);
                unsafe { sent[seq].CopyTo(new Span<byte>((byte*)f.Buffer + f.Offset, size)); }
                f.Length = size;
                f.OutPort = 1;
            }
            Assert.Equal(64, port.TxBurst(batch));
            foreach (ref Frame f in batch.Frames) pool.Return(f);
        }
        var received = new List<int>();
        while (received.Count < count && peer.Receive(2000) is byte[] frame)
        {
            int seq = TestFrames.SeqOf(frame);
            if (seq < 0) continue;
            Assert.Equal(sent[seq], frame);
            received.Add(seq);
        }
        Assert.Equal(Enumerable.Range(0, count), received);
        Assert.Equal(count, port.Counters.TxPackets);
        Assert.Equal(0, port.Counters.TxDropped);
        // One kick per burst and nothing else (no RxBurst or Flush ran, so no statistics reads).
        Assert.Equal(count / 64, port.Counters.Syscalls);
    }

    [RootTheory]
    [InlineData(AfPacketTxMode.Ring)]
    [InlineData(AfPacketTxMode.SendMmsg)]
    public void TxBurst_OwnFrames_NotReceivedByThePortItself(AfPacketTxMode mode)
    {
        using var veth = new VethPair();
        using var port = new AfPacketPort(veth.A, id: 2, new AfPacketOptions { TxMode = mode });
        using var peer = new RawPacketSocket(veth.B);
        var batch = new PacketBatch(32);
        using var pool = new FramePool(32);
        for (int i = 0; i < 32; i++)
        {
            ref Frame f = ref batch.Add();
            pool.TryRent(ref f);
            unsafe { TestFrames.Udp(i, 100).CopyTo(new Span<byte>((byte*)f.Buffer + f.Offset, 100)); }
            f.Length = 100;
            f.OutPort = 2;
        }
        Assert.Equal(32, port.TxBurst(batch));
        int atPeer = 0;
        while (atPeer < 32 && peer.Receive(2000) is byte[] frame) if (TestFrames.SeqOf(frame) >= 0) atPeer++;
        Assert.True(32 == atPeer, $"peer got {atPeer}, tx {port.Counters.TxPackets} dropped {port.Counters.TxDropped} sys {port.Counters.Syscalls}");
        // The block timeout hands over even a partial block within a few ms; 300 ms of silence means none came.
        Assert.Empty(Drain(port, 1, deadlineMs: 300));
    }

    [RootFact]
    public void TxBurst_BurstLargerThanTxRing_QueuesRingAndMarksRestFull()
    {
        using var veth = new VethPair();
        using var port = new AfPacketPort(veth.A, id: 4, new AfPacketOptions { TxFrameCount = 32, TxMode = AfPacketTxMode.Ring });
        using var peer = new RawPacketSocket(veth.B);
        Assert.Equal(32, port.TxSlots);
        var batch = new PacketBatch(256);
        using var pool = new FramePool(256);
        for (int i = 0; i < 256; i++)
        {
            ref Frame f = ref batch.Add();
            pool.TryRent(ref f);
            unsafe { TestFrames.Udp(i, 64).CopyTo(new Span<byte>((byte*)f.Buffer + f.Offset, 64)); }
            f.Length = 64;
            f.OutPort = 4;
        }
        Assert.Equal(32, port.TxBurst(batch));
        Assert.Equal(224, port.Counters.TxDropped);
        for (int i = 0; i < 256; i++) Assert.Equal(i < 32 ? DropReason.None : DropReason.TxRingFull, batch[i].Drop);
        var received = new List<int>();
        while (received.Count < 32 && peer.Receive(2000) is byte[] frame)
            if (TestFrames.SeqOf(frame) is int s and >= 0) received.Add(s);
        Assert.Equal(Enumerable.Range(0, 32), received);
    }

    [RootFact]
    public void RxBurst_BurstLargerThanRxRing_ReceivedPlusKernelDropsEqualsSent()
    {
        using var veth = new VethPair();
        // 4 blocks of 16 KB: about 200 frames of 64 bytes fit before the ring is full.
        using var port = new AfPacketPort(veth.A, id: 5, new AfPacketOptions { RxBlockSize = 16 * 1024, RxBlockCount = 4 });
        using var peer = new RawPacketSocket(veth.B);
        const int count = 3000;
        for (int i = 0; i < count; i++) peer.Send(TestFrames.Udp(i, 64));
        var got = Drain(port, count, deadlineMs: 1000);
        port.RefreshStatistics();
        Assert.True(got.Count < count, "the ring should have overflowed");
        Assert.True(got.Count > 100);
        Assert.Equal(got.Order().ToList(), got); // what arrived is in order and unique
        Assert.Equal(got.Count, got.Distinct().Count());
        // Frames the kernel could not even queue (backlog full while softirq work was deferred) are counted by the
        // sending veth as tx_dropped; everything else reached the socket or its tp_drops.
        long backlogDrops = long.Parse(File.ReadAllText($"/sys/class/net/{veth.B}/statistics/tx_dropped"));
        Assert.Equal(count, got.Count + port.Counters.RxDropped + backlogDrops);
        // After draining, the ring works again: nothing is stuck in a block we forgot to return.
        for (int i = 0; i < 100; i++) peer.Send(TestFrames.Udp(count + i, 64));
        Assert.Equal(Enumerable.Range(count, 100), Drain(port, 100));
    }

    [RootFact]
    public void RxBurst_TwoPortsInFanoutGroupOnMultiQueueVeth_EachFrameExactlyOnce()
    {
        using var veth = new VethPair(queues: 4);
        int group = Environment.ProcessId & 0xffff;
        var opts = new AfPacketOptions { FanoutGroup = group };
        using var p1 = new AfPacketPort(veth.A, id: 1, opts, queue: 0);
        using var p2 = new AfPacketPort(veth.A, id: 2, opts, queue: 1);
        using var peer = new RawPacketSocket(veth.B);
        const int count = 2000, chunk = 200;
        var a = new List<int>();
        var b = new List<int>();
        var sw = Stopwatch.StartNew();
        // Chunks well below the kernel's 1000-frame backlog, drained in between, so nothing is lost before the
        // fanout even when softirq work is deferred to ksoftirqd on a busy machine.
        for (int sent = 0; sent < count; sent += chunk)
        {
            for (int i = sent; i < sent + chunk; i++) peer.Send(TestFrames.Udp(i, 64 + (i % 3) * 500, flow: i % 64));
            while (a.Count + b.Count < sent + chunk && sw.ElapsedMilliseconds < 10_000)
            {
                a.AddRange(Drain(p1, 1, deadlineMs: 20));
                b.AddRange(Drain(p2, 1, deadlineMs: 20));
            }
        }
        Assert.NotEmpty(a);
        Assert.NotEmpty(b);
        Assert.Empty(a.Intersect(b));
        p1.RefreshStatistics();
        p2.RefreshStatistics();
        Assert.True(count == a.Count + b.Count,
            $"got {a.Count}+{b.Count}, kernel drops {p1.Counters.RxDropped}+{p2.Counters.RxDropped}, offload drops {p1.OffloadDropped}+{p2.OffloadDropped}; {Shell.Ip($"-s link show {veth.A}")}");
        Assert.Equal(Enumerable.Range(0, count), a.Concat(b).Order());
        // Flow hashing keeps a flow on one socket.
        Assert.Empty(a.Select(s => s % 64).Intersect(b.Select(s => s % 64)));
    }

    [RootTheory]
    [InlineData(AfPacketTxMode.SendMmsg)]
    [InlineData(AfPacketTxMode.Ring)]
    public void DataPath_RxTxRxDoneSteadyState_AllocatesNothing(AfPacketTxMode mode)
    {
        using var veth = new VethPair();
        using var port = new AfPacketPort(veth.A, id: 6, new AfPacketOptions { TxMode = mode });
        using var peer = new RawPacketSocket(veth.B);
        var batch = new PacketBatch(64);
        // The first round warms every path up (JIT, first P/Invoke binding of sendmmsg/sendto/poll/getsockopt);
        // the second is measured.
        long allocated = -1;
        int received = 0;
        for (int round = 0; round < 2; round++)
        {
            for (int i = 0; i < 400; i++) peer.Send(TestFrames.Udp(i, 64 + (i % 2) * 1000));
            received = 0;
            var sw = Stopwatch.StartNew();
            long before = GC.GetAllocatedBytesForCurrentThread();
            while (received < 400 && sw.ElapsedMilliseconds < 5000)
            {
                batch.Clear();
                int n = port.RxBurst(batch);
                if (n == 0)
                {
                    port.Flush();
                    Poll(port.PollFd, 20);
                    continue;
                }
                for (int i = 0; i < batch.Count; i++) batch[i].OutPort = port.Id;
                port.TxBurst(batch);
                port.RxDone(batch);
                received += n;
            }
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }
        Assert.True(received >= 400, $"only {received} frames arrived");
        Assert.Equal(0, allocated);
    }

    [RootFact]
    public void Constructor_MissingInterface_ThrowsNamingIt()
    {
        var e = Assert.Throws<NetInterfaceException>(() => new AfPacketPort("ftNoSuch9", 0));
        Assert.Contains("'ftNoSuch9'", e.Message);
    }

    [RootFact]
    public void Constructor_LinkDown_ThrowsNamingIt()
    {
        using var veth = new VethPair();
        Shell.Ip($"link set {veth.A} down");
        var e = Assert.Throws<NetInterfaceException>(() => new AfPacketPort(veth.A, 0));
        Assert.Contains($"'{veth.A}' is administratively down", e.Message);
    }
}
