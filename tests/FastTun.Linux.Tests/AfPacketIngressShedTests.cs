using FastTun.Linux.AfPacket;
using FastTun.Linux.Tests.Net;
using FastTun.Packets.Datapath;

namespace FastTun.Linux.Tests;

/// <summary>AfPacketOptions.IngressShed: the hysteresis, and the XDP program that drops (and counts) every frame while
/// the flag is set and none while it is not (root).</summary>
public class AfPacketIngressShedTests
{
    [Theory]
    [InlineData(0u, 0, false)]                  // the kernel's block: it has a free block to fill
    [InlineData(0u, 5, false)]                  // (status says kernel: cannot hold frames, but still not full)
    [InlineData(1u, 0, true)]                   // handed over, given back and refilled: no free block left
    [InlineData(1u | 0x80000000u, 0, true)]     // other status bits do not matter
    [InlineData(1u, 3, false)]                  // still ours from the last lap: the kernel is not behind it
    [InlineData(1u, 1000, false)]
    public void RingFull_BlockBehindCursor_OnlyWhenHandedOverAndNotHeld(uint status, int held, bool expected) =>
        Assert.Equal(expected, AfPacketPort.RingFull(status, held));

    [Theory]
    [InlineData(null, true)]
    [InlineData("", true)]
    [InlineData(" 1 ", true)]
    [InlineData("0", false)]
    [InlineData(" 0", false)]
    public void Enabled_VariableValue_OnlyZeroTurnsItOff(string? value, bool expected) =>
        Assert.Equal(expected, IngressShed.Enabled(value));

    [Theory]
    [InlineData("off")]
    [InlineData("2")]
    [InlineData("yes")]
    public void Enabled_BadValue_ThrowsNamingVariable(string value)
    {
        var e = Assert.Throws<InvalidOperationException>(() => IngressShed.Enabled(value));
        Assert.Contains(IngressShed.Variable, e.Message);
    }

    /// <summary>A 60-byte IPv4/UDP-ish frame to a unicast MAC, tagged with <paramref name="tag"/> at byte 59.</summary>
    private static byte[] Frame(byte tag)
    {
        var f = new byte[60];
        byte[] dst = [0x02, 0, 0, 0, 0, 0x0b];
        dst.CopyTo(f, 0);
        TestFrames.SrcMac.CopyTo(f, 6);
        f[12] = 0x08; f[13] = 0x00; f[14] = 0x45; f[23] = 17;
        f[59] = tag;
        return f;
    }

    /// <summary>Frames with tag 0xA5 at byte 59 the port receives within a few polls.</summary>
    private static int ReceiveTagged(AfPacketPort port)
    {
        var batch = new PacketBatch(64);
        int seen = 0;
        for (int pass = 0; pass < 10; pass++)
        {
            batch.Clear();
            if (port.RxBurst(batch) == 0) { AfPacketPortTests.Poll(port.PollFd, 20); continue; }
            foreach (ref var f in batch.Frames)
                if (f.Data.Length >= 60 && f.Data[59] == 0xA5) seen++;
            port.RxDone(batch);
        }
        return seen;
    }

    [RootFact]
    public void Shedding_FlagSet_DropsAndCountsEveryFrameBeforeTheSocket()
    {
        using var veth = new VethPair();
        using var peer = new RawPacketSocket(veth.B);
        using var port = new AfPacketPort(veth.A, id: 3, new AfPacketOptions { IngressShed = true });
        Assert.True(port.Shed is not null, port.IngressShedError);
        var shed = port.Shed!;
        Assert.False(shed.Shedding);

        shed.Shedding = true;
        long before = shed.Shed;
        for (int i = 0; i < 20; i++) peer.Send(Frame(0xA5));
        Assert.Equal(0, ReceiveTagged(port));
        Assert.True(shed.Shed - before >= 20, $"shed {shed.Shed - before} of 20");
        long rxDropped = port.Counters.RxDropped;
        port.RefreshStatistics();
        Assert.True(port.Counters.RxDropped - rxDropped >= 20, "shed frames are not counted as rx drops");

        shed.Shedding = false;
        long afterShed = shed.Shed;
        for (int i = 0; i < 20; i++) peer.Send(Frame(0xA5));
        Assert.Equal(20, ReceiveTagged(port));
        Assert.Equal(afterShed, shed.Shed);
    }

    /// <summary>lat6: the port sheds while its rx ring is full and stops once it has given a block back; a ring with
    /// room never sheds. Four 4 KiB blocks (a few dozen 60-byte frames each) are filled by sending more than fit.</summary>
    [RootFact]
    public void RxBurst_RingFullThenDrained_ShedsOnlyWhileFull()
    {
        using var veth = new VethPair();
        using var peer = new RawPacketSocket(veth.B);
        using var port = new AfPacketPort(veth.A, id: 3, new AfPacketOptions { IngressShed = true, RxBlockSize = 4096, RxBlockCount = 4 });
        Assert.True(port.Shed is not null, port.IngressShedError);
        var shed = port.Shed!;
        var small = new PacketBatch(8);

        // Room left: a few frames, then a burst that takes some of them. No shedding.
        for (int i = 0; i < 5; i++) peer.Send(Frame(0xA5));
        Thread.Sleep(10);   // the block timeout (a jiffy) hands the partly used block over
        Assert.True(port.RxBurst(small) > 0);
        Assert.False(shed.Shedding, "shedding with three free blocks");
        port.RxDone(small);
        while (true) { small.Clear(); if (port.RxBurst(small) == 0) break; port.RxDone(small); }
        Assert.False(shed.Shedding);

        // Full: many more frames than four blocks hold, then one burst (frames stay in the batch).
        for (int i = 0; i < 400; i++) peer.Send(Frame(0xA5));
        Thread.Sleep(10);
        small.Clear();
        Assert.True(port.RxBurst(small) > 0);
        Assert.True(shed.Shedding, "not shedding on a full ring");
        long before = shed.Shed;
        for (int i = 0; i < 20; i++) peer.Send(Frame(0xA5));
        Assert.True(shed.Shed - before >= 20, $"shed {shed.Shed - before} of 20 while full");

        // Drained: every block given back, the next burst clears the flag and frames arrive again.
        port.RxDone(small);
        while (true) { small.Clear(); if (port.RxBurst(small) == 0) break; port.RxDone(small); }
        Assert.False(shed.Shedding, "still shedding after the ring was drained");
        long afterDrain = shed.Shed;
        for (int i = 0; i < 20; i++) peer.Send(Frame(0xA5));
        Assert.Equal(20, ReceiveTagged(port));
        Assert.Equal(afterDrain, shed.Shed);
    }
}
