using System.Diagnostics;
using FastTun.Linux.AfXdp;
using FastTun.Linux.Tests.Net;
using FastTun.Packets.Datapath;
using static FastTun.Linux.Tests.AfXdpTestSupport;

namespace FastTun.Linux.Tests;

/// <summary>
/// Two AF_XDP ports on two veth pairs sharing one UMEM (XDP_SHARED_UMEM), as one worker's ports do: frames
/// received on the first are transmitted by the second as descriptors (no copy into its own buffers), arrive
/// at the second peer once and intact, and every UMEM frame is accounted for afterwards.
/// </summary>
public sealed class AfXdpSharedUmemTests
{
    [RootTheory]
    [InlineData(XdpAttachMode.Native, 64)]
    [InlineData(XdpAttachMode.Native, 1514)]
    [InlineData(XdpAttachMode.Generic, 64)]
    [InlineData(XdpAttachMode.Generic, 1514)]
    public void TxBurst_ForwardBetweenPortsSharingUmem_NoCopyEachArrivesOnceAccountingExact(XdpAttachMode mode, int length)
    {
        using var veth1 = new VethPair();
        using var veth2 = new VethPair();
        var options = SmallRings(mode);
        using var umem = new XdpUmem(2048, 2 * options.FrameCount);
        using var eth1 = new AfXdpPort(veth1.A, 0, 0, options, umem: umem);
        using var eth2 = new AfXdpPort(veth2.A, 0, 1, options, umem: umem);
        using var peer1 = new XdpPeerSocket(veth1.B);
        using var peer2 = new XdpPeerSocket(veth2.B);
        Assert.False(eth1.SharedUmem);
        Assert.True(eth2.SharedUmem);
        Assert.Equal(eth1.CopyMode, eth2.CopyMode);
        Assert.Equal(2, umem.Ports.Count);

        var batch = new PacketBatch(64);
        var frame = new byte[length];
        int total = 1024, forwarded = 0, arrived = 0;
        var seen = new bool[total];
        var clock = Stopwatch.StartNew();
        for (uint seq = 0; seq < total; seq += 32)
        {
            for (uint i = 0; i < 32; i++)
            {
                XdpPeerSocket.Build(frame, seq + i);
                peer1.Send(frame);
            }
            int target = (int)seq + 32;
            while (forwarded < target && clock.Elapsed < Patience)
            {
                batch.Clear();
                int n = eth1.RxBurst(batch);
                foreach (ref Frame f in batch.Frames) f.OutPort = 1;
                Assert.Equal(n, eth2.TxBurst(batch));
                foreach (ref Frame f in batch.Frames) Assert.True((f.Flags & FrameFlags.TxOwned) != 0);
                eth1.RxDone(batch);
                forwarded += n;
            }
            arrived += ReceiveAtPeer(peer2, eth2, length, seen, target);
        }
        Assert.Equal(total, forwarded);
        Assert.Equal(total, arrived);
        Assert.All(seen, Assert.True);
        Assert.Equal(0, eth2.Counters.TxCopied);
        Assert.Equal(total, eth2.Counters.TxPackets);
        Settle(eth2);
        AssertAllFramesAccounted(eth1); // the UMEM's accounting: both ports' rings included
    }

    [RootFact]
    public void Constructor_SharingPortClosedRegistrar_ThrowsNamingInterface()
    {
        using var veth1 = new VethPair();
        using var veth2 = new VethPair();
        var options = SmallRings(XdpAttachMode.Native);
        using var umem = new XdpUmem(2048, 2 * options.FrameCount);
        new AfXdpPort(veth1.A, 0, 0, options, umem: umem).Dispose();
        var ex = Assert.Throws<InvalidOperationException>(() => new AfXdpPort(veth2.A, 0, 1, options, umem: umem));
        Assert.Contains(veth2.A, ex.Message);
        Assert.Null(XdpProgram.Query(veth2.A));
    }
}
