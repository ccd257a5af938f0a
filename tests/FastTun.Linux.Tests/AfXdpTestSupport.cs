using System.Diagnostics;
using FastTun.Linux.AfXdp;
using FastTun.Packets.Datapath;

namespace FastTun.Linux.Tests;

/// <summary>Shared pieces of the AF_XDP tests: small rings, draining a port, receiving at the peer, and the
/// UMEM accounting check every test ends with.</summary>
internal static class AfXdpTestSupport
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);

    public static AfXdpOptions SmallRings(XdpAttachMode mode) => new()
    {
        AttachMode = mode,
        RxRingSize = 256,
        TxRingSize = 256,
        FillRingSize = 512,
        CompletionRingSize = 256,
        FrameCount = 2048,
    };

    /// <summary>Receives into <paramref name="seen"/> until <paramref name="target"/> frames have arrived in
    /// total (or the patience runs out; 0 = one pass), checking content, then returns the buffers.</summary>
    /// <summary>No XDP program on the interface, allowing a moment for the kernel to let go of the bpf_link: a child
    /// process another test is starting holds a copy of every descriptor between fork and exec (the link's too,
    /// although it is close-on-exec), so the detach can trail the last close by a little.</summary>
    internal static void AssertDetached(string iface)
    {
        var clock = Stopwatch.StartNew();
        while (XdpProgram.Query(iface) is not null && clock.ElapsedMilliseconds < 2000) Thread.Sleep(10);
        Assert.Null(XdpProgram.Query(iface));
    }

    internal static int Drain(AfXdpPort port, PacketBatch batch, int length, bool[] seen, int target, ushort id)
    {
        int got = 0;
        var clock = Stopwatch.StartNew();
        do
        {
            batch.Clear();
            int n = port.RxBurst(batch);
            for (int i = 0; i < n; i++)
            {
                ref Frame f = ref batch[i];
                Assert.Equal(id, f.InPort);
                Assert.Equal(port.Headroom, f.Offset);
                long seq = XdpPeerSocket.Check(f.Data, length);
                Assert.InRange(seq, 0, seen.Length - 1);
                Assert.False(seen[seq], $"frame {seq} received twice");
                seen[seq] = true;
            }
            port.RxDone(batch);
            got += n;
            if (n == 0 && target == 0) break;
        } while (CountSeen(seen) < target && clock.Elapsed < Patience);
        return got;
    }

    internal static int ReceiveAtPeer(XdpPeerSocket peer, AfXdpPort port, int length, bool[] seen, int target)
    {
        int got = 0;
        var clock = Stopwatch.StartNew();
        while (CountSeen(seen) < target && clock.Elapsed < Patience)
        {
            var data = peer.TryReceive();
            if (data.IsEmpty)
            {
                port.Flush();
                Thread.Sleep(1);
                continue;
            }
            long seq = XdpPeerSocket.Check(data, length);
            Assert.InRange(seq, 0, seen.Length - 1);
            Assert.False(seen[seq], $"frame {seq} arrived twice");
            seen[seq] = true;
            got++;
        }
        return got;
    }

    internal static int CountSeen(bool[] seen)
    {
        int n = 0;
        foreach (bool b in seen) n += b ? 1 : 0;
        return n;
    }

    /// <summary>Lets the kernel finish pending transmissions and reaps their completions.</summary>
    internal static void Settle(AfXdpPort port)
    {
        var clock = Stopwatch.StartNew();
        while (port.Accounting() is { TxRing: > 0 } or { KernelTx: > 0 } or { CompletionRing: > 0 } && clock.Elapsed < Patience)
        {
            port.Flush();
            Thread.Sleep(1);
        }
    }

    internal static void AssertAllFramesAccounted(AfXdpPort port)
    {
        Settle(port);
        UmemAccounting a = port.Accounting();
        Assert.Equal(0, a.Violations);
        Assert.Equal(port.FrameCount, a.Total);
        Assert.Equal(a.Total, a.Sum);
        Assert.Equal(0, a.Application);
        Assert.True(a.FillRing >= 0 && a.KernelRx >= 0 && a.RxRing >= 0 && a.TxRing >= 0 && a.KernelTx >= 0
            && a.CompletionRing >= 0, a.ToString());
        Assert.Equal(0, a.TxRing + a.KernelTx + a.CompletionRing);
        // Everything not lent to the kernel for rx is back on the free list.
        Assert.Equal(a.Total - a.FillRing - a.KernelRx - a.RxRing, a.Free);
    }
}
