using FastTun.Linux.AfPacket;
using FastTun.Linux.Tests.Net;
using FastTun.Packets.Datapath;

namespace FastTun.Linux.Tests;

/// <summary>AfPacketOptions.IngressShed: the hysteresis, and the XDP program that drops (and counts) every frame while
/// the flag is set and none while it is not (root).</summary>
public class AfPacketIngressShedTests
{
    [Theory]
    [InlineData(false, false, false, false)]
    [InlineData(false, false, true, false)]
    [InlineData(false, true, true, true)]
    [InlineData(true, true, true, true)]
    [InlineData(true, false, true, true)]
    [InlineData(true, false, false, false)]
    public void NextShedState_Occupancy_StartsAtHighStopsBelowLow(bool shedding, bool high, bool low, bool expected) =>
        Assert.Equal(expected, AfPacketPort.NextShedState(shedding, high, low));

    [Theory]
    [InlineData(0u, 131072u, false)]        // the kernel's block, whatever its length field says
    [InlineData(1u, 0u, false)]             // handed over by timeout, empty
    [InlineData(1u, 32767u, false)]         // a few hundred frames short of a quarter
    [InlineData(1u, 32768u, true)]          // a quarter of a 128 KiB block
    [InlineData(1u | 0x80000000u, 131072u, true)] // other status bits do not matter
    public void IsOverloadBlock_StatusAndLength_OnlyWellUsedUserBlocks(uint status, uint length, bool expected) =>
        Assert.Equal(expected, AfPacketPort.IsOverloadBlock(status, length, 131072));

    [Theory]
    [InlineData(null, false)]
    [InlineData("", false)]
    [InlineData(" 1 ", true)]
    [InlineData("0", false)]
    public void Enabled_VariableValue_OnlyOneTurnsItOn(string? value, bool expected) =>
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
}
