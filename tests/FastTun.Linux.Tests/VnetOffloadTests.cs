using System.Buffers.Binary;
using FastTun.Linux.AfPacket;
using FastTun.Linux.Interop;

namespace FastTun.Linux.Tests;

public class VnetOffloadTests
{
    /// <summary>Ethernet + IPv4 + TCP (with options when tcpOptions) or UDP super-frame with a random payload.</summary>
    private static byte[] SuperFrame(Random rng, int payload, bool tcp, byte tcpFlags = 0x18, int tcpOptions = 12)
    {
        int l4h = tcp ? 20 + tcpOptions : 8;
        int len = 14 + 20 + l4h + payload;
        var f = new byte[len];
        rng.NextBytes(f.AsSpan(0, 12));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        var ip = f.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)Math.Min(0xFFFF, len - 14));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)rng.Next(65536));
        ip[6] = 0x40; // DF
        ip[8] = 64;
        ip[9] = (byte)(tcp ? 6 : 17);
        rng.NextBytes(ip.Slice(12, 8));
        var l4 = ip[20..];
        rng.NextBytes(l4[..4]);
        if (tcp)
        {
            BinaryPrimitives.WriteUInt32BigEndian(l4[4..], (uint)rng.NextInt64());
            l4[12] = (byte)((l4h / 4) << 4);
            l4[13] = tcpFlags;
            rng.NextBytes(l4.Slice(20, tcpOptions));
        }
        rng.NextBytes(l4[l4h..]);
        return f;
    }

    [Fact]
    public void WriteSegment_RandomTcpSuperFrames_SegmentsMatchOracle()
    {
        var rng = new Random(4242);
        for (int round = 0; round < 200; round++)
        {
            int mss = rng.Next(500, 1461);
            int payload = rng.Next(0, 64000);
            byte flags = (byte)(0x80 | 0x10 | 0x08 | 0x01); // CWR ACK PSH FIN
            var super = SuperFrame(rng, payload, tcp: true, flags, tcpOptions: rng.Next(4) * 4);
            Assert.True(VnetOffload.TryPlan(super, Libc.VIRTIO_NET_HDR_GSO_TCPV4, mss, out var plan));
            Assert.Equal(payload == 0 ? 1 : (payload + mss - 1) / mss, plan.SegmentCount);
            uint seq0 = BinaryPrimitives.ReadUInt32BigEndian(super.AsSpan(34 + 4));
            ushort id0 = BinaryPrimitives.ReadUInt16BigEndian(super.AsSpan(18));
            var reassembled = new List<byte>();
            var buf = new byte[2000];
            for (int i = 0; i < plan.SegmentCount; i++)
            {
                int len = VnetOffload.WriteSegment(super, plan, i, buf);
                Assert.True(len > 0);
                var seg = buf.AsSpan(0, len);
                Assert.True(len <= plan.HeaderLength + mss);
                Assert.Equal(len - 14, BinaryPrimitives.ReadUInt16BigEndian(seg[16..]));
                Assert.Equal((ushort)(id0 + i), BinaryPrimitives.ReadUInt16BigEndian(seg[18..]));
                Assert.True(ChecksumOracle.IpHeaderOk(seg[14..]));
                Assert.True(ChecksumOracle.L4Ok(seg[14..]));
                Assert.Equal(seq0 + (uint)(i * mss), BinaryPrimitives.ReadUInt32BigEndian(seg[38..]));
                byte f = seg[34 + 13];
                bool first = i == 0, last = i == plan.SegmentCount - 1;
                Assert.Equal(last, (f & 0x01) != 0);
                Assert.Equal(last, (f & 0x08) != 0);
                Assert.Equal(first, (f & 0x80) != 0);
                Assert.True((f & 0x10) != 0);
                Assert.True(seg[..plan.HeaderLength][..12].SequenceEqual(super.AsSpan(0, 12)));
                reassembled.AddRange(seg[plan.HeaderLength..].ToArray());
            }
            Assert.True(super.AsSpan(plan.HeaderLength).SequenceEqual(reassembled.ToArray()));
        }
    }

    [Fact]
    public void WriteSegment_RandomUdpL4SuperFrames_SegmentsMatchOracle()
    {
        var rng = new Random(77);
        for (int round = 0; round < 100; round++)
        {
            int size = rng.Next(200, 1473);
            int payload = rng.Next(1, 60000);
            var super = SuperFrame(rng, payload, tcp: false);
            Assert.True(VnetOffload.TryPlan(super, Libc.VIRTIO_NET_HDR_GSO_UDP_L4, size, out var plan));
            var buf = new byte[2000];
            int total = 0;
            for (int i = 0; i < plan.SegmentCount; i++)
            {
                int len = VnetOffload.WriteSegment(super, plan, i, buf);
                var seg = buf.AsSpan(0, len);
                Assert.Equal(len - 34, BinaryPrimitives.ReadUInt16BigEndian(seg[38..]));
                Assert.True(ChecksumOracle.IpHeaderOk(seg[14..]));
                Assert.True(ChecksumOracle.L4Ok(seg[14..]));
                Assert.NotEqual(0, BinaryPrimitives.ReadUInt16BigEndian(seg[40..]));
                Assert.True(seg[42..].SequenceEqual(super.AsSpan(42 + i * size, len - 42)));
                total += len - 42;
            }
            Assert.Equal(payload, total);
        }
    }

    [Fact]
    public void CompleteChecksum_PartialTcpAndUdp_MatchesOracle()
    {
        var rng = new Random(9);
        for (int round = 0; round < 300; round++)
        {
            bool tcp = rng.Next(2) == 0;
            var f = SuperFrame(rng, rng.Next(0, 1400), tcp);
            var ip = f.AsSpan(14);
            int l4Len = f.Length - 34;
            int csumOffset = tcp ? 16 : 6;
            if (!tcp) BinaryPrimitives.WriteUInt16BigEndian(ip[24..], (ushort)l4Len);
            // What the sending stack leaves: the folded pseudo-header sum, not inverted.
            long pseudo = ChecksumOracle.Sum16(ip.Slice(12, 8)) + ip[9] + l4Len;
            while (pseudo > 0xFFFF) pseudo = (pseudo & 0xFFFF) + (pseudo >> 16);
            BinaryPrimitives.WriteUInt16BigEndian(ip[(20 + csumOffset)..], (ushort)pseudo);
            Assert.True(VnetOffload.CompleteChecksum(f, 34, csumOffset));
            Assert.True(ChecksumOracle.L4Ok(ip));
        }
    }

    [Fact]
    public void TryPlan_MalformedOrUnsupported_ReturnsFalse()
    {
        var rng = new Random(1);
        var ok = SuperFrame(rng, 3000, tcp: true);
        Assert.True(VnetOffload.TryPlan(ok, Libc.VIRTIO_NET_HDR_GSO_TCPV4, 1000, out _));
        Assert.False(VnetOffload.TryPlan(ok, Libc.VIRTIO_NET_HDR_GSO_TCPV6, 1000, out _));
        Assert.False(VnetOffload.TryPlan(ok, Libc.VIRTIO_NET_HDR_GSO_TCPV4, 0, out _));
        Assert.False(VnetOffload.TryPlan(ok.AsSpan(0, 40), Libc.VIRTIO_NET_HDR_GSO_TCPV4, 1000, out _));
        var badVersion = (byte[])ok.Clone();
        badVersion[14] = 0x65;
        Assert.False(VnetOffload.TryPlan(badVersion, Libc.VIRTIO_NET_HDR_GSO_TCPV4, 1000, out _));
        var udpAsTcp = SuperFrame(rng, 3000, tcp: false);
        Assert.False(VnetOffload.TryPlan(udpAsTcp, Libc.VIRTIO_NET_HDR_GSO_TCPV4, 1000, out _));
        var badDoff = (byte[])ok.Clone();
        badDoff[34 + 12] = 0x20;
        Assert.False(VnetOffload.TryPlan(badDoff, Libc.VIRTIO_NET_HDR_GSO_TCPV4, 1000, out _));
        Assert.False(VnetOffload.CompleteChecksum(ok.AsSpan(0, 40), 34, 16));
        Assert.Equal(0, VnetOffload.WriteSegment(ok, new GsoPlan(14, 34, 66, 1000, 3000 - 12, true), 0, new byte[100]));
    }
}
