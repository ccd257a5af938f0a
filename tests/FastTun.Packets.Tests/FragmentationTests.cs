using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;

namespace FastTun.Packets.Tests;

public class FragmentationTests
{
    private static byte[] MakePacket(int payload, int seed, byte[]? options = null, bool df = false)
    {
        options ??= [];
        int h = 20 + options.Length;
        var p = new byte[h + payload];
        new Random(seed).NextBytes(p.AsSpan(h));
        Ipv4Header.Write(p, 0x10, (ushort)p.Length, 0x1234, df, 64, Ipv4Header.ProtocolUdp, 0x0A01050A, 0x0A01080A);
        options.CopyTo(p.AsSpan(20));
        p[0] = (byte)(0x40 | (h >> 2));
        Ipv4Header.TryParse(p, out var ip);
        ip.ComputeChecksum();
        return p;
    }

    [Theory]
    [InlineData(1480, 1461)]
    [InlineData(1472, 3000)]
    [InlineData(576, 5000)]
    [InlineData(68, 1000)]
    [InlineData(1480, 64000)]
    public void Fragment_ThenReassembleShuffled_RestoresPacket(int mtu, int payload)
    {
        byte[] original = MakePacket(payload, payload);
        using var pool = new FramePool(256, 2048);
        var output = new PacketBatch(256);
        Frame template = default;
        template.OutPort = 3;
        Assert.Equal(DropReason.None, Ipv4Fragmenter.Fragment(original, mtu, pool, output, template));
        Assert.True(output.Count >= 2);

        var order = Enumerable.Range(0, output.Count).OrderBy(_ => Random.Shared.Next()).ToArray();
        using var r = new Ipv4Reassembler();
        Frame whole = default;
        ReassemblyStatus status = ReassemblyStatus.Pending;
        foreach (int i in order)
        {
            ref Frame f = ref output[i];
            Assert.True(f.Length <= mtu);
            Assert.Equal(3, f.OutPort);
            Assert.True(Ipv4Header.TryParse(f.Data, out var fh));
            Assert.True(fh.IsChecksumValid());
            Assert.Equal(0x1234, fh.Identification);
            status = r.Add(f.Data, 0, ref whole, out var reason);
            Assert.Equal(DropReason.None, reason);
        }
        Assert.Equal(ReassemblyStatus.Complete, status);
        Assert.Equal(original, whole.Data.ToArray());
        Assert.Equal(0, r.InProgress);
        r.Return(whole);
    }

    [Fact]
    public void Fragment_CopiedOptionsOnly_OnLaterFragments()
    {
        // Option 0x83 (LSRR, copied) of 7 bytes + NOP; option 0x07 (record route, not copied) of 3 bytes + NOP.
        byte[] options = [0x83, 7, 4, 1, 2, 3, 4, 0x01, 0x07, 3, 4, 0x01];
        byte[] original = MakePacket(2000, 7, options);
        using var pool = new FramePool(16);
        var output = new PacketBatch(16);
        Assert.Equal(DropReason.None, Ipv4Fragmenter.Fragment(original, 1000, pool, output, default));
        Assert.True(Ipv4Header.TryParse(output[0].Data, out var first));
        Assert.Equal(32, first.HeaderLength);
        Assert.True(Ipv4Header.TryParse(output[1].Data, out var second));
        Assert.Equal(28, second.HeaderLength); // 20 + 7 copied bytes padded to 8
        Assert.Equal(0x83, second.Options[0]);
        Assert.True(second.IsChecksumValid());
    }

    [Fact]
    public void Fragment_AlreadyAFragment_KeepsOffsetBaseAndMf()
    {
        byte[] original = MakePacket(1600, 3);
        Ipv4Header.TryParse(original, out var ip);
        ip.FlagsAndFragment = (ushort)(Ipv4Header.FlagMoreFragments | (800 >> 3));
        ip.ComputeChecksum();
        using var pool = new FramePool(16);
        var output = new PacketBatch(16);
        Assert.Equal(DropReason.None, Ipv4Fragmenter.Fragment(original, 1000, pool, output, default));
        Ipv4Header.TryParse(output[0].Data, out var a);
        Ipv4Header.TryParse(output[output.Count - 1].Data, out var z);
        Assert.Equal(800, a.FragmentOffset);
        Assert.True(z.MoreFragments);
    }

    [Fact]
    public void Fragment_PoolTooSmall_ReturnsReasonAndLeavesNothing()
    {
        byte[] original = MakePacket(6000, 1);
        using var pool = new FramePool(2);
        var output = new PacketBatch(16);
        Assert.Equal(DropReason.NoHeadroom, Ipv4Fragmenter.Fragment(original, 1000, pool, output, default));
        Assert.Equal(0, output.Count);
        Assert.Equal(2, pool.Available);
    }

    private static List<byte[]> Pieces(byte[] packet, int mtu)
    {
        using var pool = new FramePool(64);
        var output = new PacketBatch(64);
        Assert.Equal(DropReason.None, Ipv4Fragmenter.Fragment(packet, mtu, pool, output, default));
        return output.Frames.ToArray().Select(f => f.Data.ToArray()).ToList();
    }

    [Fact]
    public void Add_ExactDuplicate_IsIgnored()
    {
        var pieces = Pieces(MakePacket(3000, 5), 1000);
        using var r = new Ipv4Reassembler();
        Frame whole = default;
        Assert.Equal(ReassemblyStatus.Pending, r.Add(pieces[0], 0, ref whole, out _));
        Assert.Equal(ReassemblyStatus.Pending, r.Add(pieces[0], 0, ref whole, out var reason));
        Assert.Equal(DropReason.None, reason);
        for (int i = 1; i < pieces.Count - 1; i++) r.Add(pieces[i], 0, ref whole, out _);
        Assert.Equal(ReassemblyStatus.Complete, r.Add(pieces[^1], 0, ref whole, out _));
        r.Return(whole);
    }

    [Fact]
    public void Add_Overlap_DropsDatagram()
    {
        var pieces = Pieces(MakePacket(3000, 5), 1000);
        using var r = new Ipv4Reassembler();
        Frame whole = default;
        r.Add(pieces[0], 0, ref whole, out _);
        // A forged fragment at offset 8 overlapping the first one.
        byte[] forged = (byte[])pieces[1].Clone();
        Ipv4Header.TryParse(forged, out var fh);
        fh.FlagsAndFragment = (ushort)(Ipv4Header.FlagMoreFragments | 1);
        fh.ComputeChecksum();
        Assert.Equal(ReassemblyStatus.Dropped, r.Add(forged, 0, ref whole, out var reason));
        Assert.Equal(DropReason.ReassemblyBad, reason);
        Assert.Equal(0, r.InProgress);
    }

    [Fact]
    public void Expire_AfterTimeout_AbandonsAndFreesContext()
    {
        var pieces = Pieces(MakePacket(3000, 5), 1000);
        using var r = new Ipv4Reassembler(maxDatagrams: 1, timeoutMs: 30_000);
        Frame whole = default;
        r.Add(pieces[0], 0, ref whole, out _);
        Assert.Equal(0, r.Expire(29_999));
        Assert.Equal(1, r.Expire(30_000));
        Assert.Equal(0, r.InProgress);
    }

    [Fact]
    public void Add_TooManyDatagrams_Overflow()
    {
        using var r = new Ipv4Reassembler(maxDatagrams: 2);
        Frame whole = default;
        for (int i = 0; i < 2; i++)
        {
            var p = MakePacket(3000, i);
            Ipv4Header.TryParse(p, out var ip);
            ip.Identification = (ushort)i;
            ip.ComputeChecksum();
            Assert.Equal(ReassemblyStatus.Pending, r.Add(Pieces(p, 1000)[0], 0, ref whole, out _));
        }
        var third = Pieces(MakePacket(3000, 9), 1000)[0];
        Assert.Equal(ReassemblyStatus.Dropped, r.Add(third, 0, ref whole, out var reason));
        Assert.Equal(DropReason.ReassemblyOverflow, reason);
    }

    [Fact]
    public void Add_NonFinalFragmentNotMultipleOf8_Malformed()
    {
        byte[] p = MakePacket(101, 1);
        Ipv4Header.TryParse(p, out var ip);
        ip.MoreFragments = true;
        ip.ComputeChecksum();
        using var r = new Ipv4Reassembler();
        Frame whole = default;
        Assert.Equal(ReassemblyStatus.Dropped, r.Add(p, 0, ref whole, out var reason));
        Assert.Equal(DropReason.FragmentMalformed, reason);
    }
}
