using FastTun.Linux.AfPacket;
using FastTun.Linux.Tests.Net;

namespace FastTun.Linux.Tests;

/// <summary>AfPacketOptions.KernelIngressDrop: the socket still sees every frame, the kernel's own stack none (root).</summary>
public class AfPacketIngressDropTests
{
    private static int s_subnet = Environment.ProcessId % 200;

    /// <summary>A broadcast ARP request for <paramref name="target"/> from 02:00:00:00:00:0a / <paramref name="sender"/>.</summary>
    private static byte[] ArpRequest(byte[] sender, byte[] target)
    {
        var f = new byte[60];
        for (int i = 0; i < 6; i++) f[i] = 0xff;
        TestFrames.SrcMac.CopyTo(f, 6);
        f[12] = 0x08; f[13] = 0x06;
        byte[] arp = [0, 1, 0x08, 0, 6, 4, 0, 1];
        arp.CopyTo(f, 14);
        TestFrames.SrcMac.CopyTo(f, 22);
        sender.CopyTo(f, 28);
        target.CopyTo(f, 38);
        return f;
    }

    private static bool IsArpReply(byte[] frame) =>
        frame.Length >= 42 && frame[12] == 0x08 && frame[13] == 0x06 && frame[20] == 0 && frame[21] == 2;

    /// <summary>Sends the request up to three times and reports whether the kernel behind A answered.</summary>
    private static bool KernelAnswers(RawPacketSocket peer, byte[] request)
    {
        for (int attempt = 0; attempt < 3; attempt++)
        {
            peer.Send(request);
            for (var reply = peer.Receive(300); reply is not null; reply = peer.Receive(300))
                if (IsArpReply(reply)) return true;
        }
        return false;
    }

    [RootTheory]
    [InlineData(true)]
    [InlineData(false)]
    public void Open_KernelIngressDrop_SocketSeesFramesKernelAnswersOnlyWithoutDrop(bool drop)
    {
        using var veth = new VethPair();
        int n = Interlocked.Increment(ref s_subnet) % 250;
        byte[] local = [10, 251, (byte)n, 1], remote = [10, 251, (byte)n, 2];
        Shell.Ip($"addr add 10.251.{n}.1/30 dev {veth.A}");
        using var peer = new RawPacketSocket(veth.B);
        var request = ArpRequest(remote, local);
        using (var port = new AfPacketPort(veth.A, id: 7, new AfPacketOptions { KernelIngressDrop = drop }))
        {
            Assert.Equal(drop, port.KernelIngressDropped);
            Assert.True(port.KernelIngressDropError is null, port.KernelIngressDropError);
            Assert.Equal(!drop, KernelAnswers(peer, request));
            // The tap runs before tc ingress: the socket got the requests either way.
            var batch = new FastTun.Packets.Datapath.PacketBatch(64);
            int arps = 0;
            for (int pass = 0; pass < 50 && arps == 0; pass++)
            {
                batch.Clear();
                if (port.RxBurst(batch) == 0) { AfPacketPortTests.Poll(port.PollFd, 20); continue; }
                foreach (ref var f in batch.Frames)
                    if (f.Data.Length >= 42 && f.Data[12] == 0x08 && f.Data[13] == 0x06 && f.Data[21] == 1) arps++;
                port.RxDone(batch);
            }
            Assert.True(arps > 0, "the socket saw no ARP request");
        }
        // Closing the port detaches the program with it: the kernel answers again.
        Assert.True(KernelAnswers(peer, request), "the kernel still drops after the port closed");
    }

    [RootFact]
    public void TryAttach_NoSuchInterface_NullWithReason()
    {
        using var drop = KernelIngressDrop.TryAttach(int.MaxValue, out var error);
        Assert.Null(drop);
        Assert.NotNull(error);
        Assert.Contains("BPF_LINK_CREATE", error);
        Assert.Contains(int.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture), error);
    }
}
