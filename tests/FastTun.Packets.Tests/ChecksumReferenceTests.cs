using FastTun.Packets.Checksum;

namespace FastTun.Packets.Tests;

public class ChecksumReferenceTests
{
    // RFC 1071 §3 example: the words 0001 f203 f4f5 f6f7 sum to 0x2ddf0, folded 0xddf2.
    [Fact]
    public void SumScalar_Rfc1071Example_FoldsToDdf2()
    {
        byte[] data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        Assert.Equal(0xddf2, InternetChecksum.Fold(InternetChecksum.SumScalar(data)));
    }

    // A real IPv4 header (from a capture) whose checksum field is 0xb861.
    [Fact]
    public void Compute_KnownIpv4Header_MatchesWire()
    {
        byte[] header = Convert.FromHexString("450000730000400040110000c0a80001c0a800c7");
        Assert.Equal(0xb861, InternetChecksum.Compute(header));
        header[10] = 0xb8; header[11] = 0x61;
        Assert.True(InternetChecksum.Verify(header));
    }

    [Fact]
    public void SumScalar_OddLength_PadsWithZero()
    {
        Assert.Equal(InternetChecksum.SumScalar([0x12, 0x34, 0x56, 0x00]), InternetChecksum.SumScalar([0x12, 0x34, 0x56]));
    }
}
