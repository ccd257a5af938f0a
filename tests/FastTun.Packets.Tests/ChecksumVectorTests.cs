using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using FastTun.Packets.Checksum;

namespace FastTun.Packets.Tests;

/// <summary>
/// Every fast checksum path against the scalar reference. A direct vector path is only listed when this
/// process accelerates that width, so the suite stays meaningful under DOTNET_EnableHWIntrinsic=0 and with
/// AVX-512 disabled: the unsupported paths are simply not called, while <c>Sum</c> and <c>SumScalar64</c> are
/// always checked.
/// </summary>
public unsafe class ChecksumVectorTests
{
    private delegate uint SumPath(ReadOnlySpan<byte> data, uint initial);

    private static SumPath Path(string name) => name switch
    {
        "Scalar64" => InternetChecksum.SumScalar64,
        "Vector128" => InternetChecksum.SumVector128,
        "Vector256" => InternetChecksum.SumVector256,
        "Vector512" => InternetChecksum.SumVector512,
        "Sum" => InternetChecksum.Sum,
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    private static List<string> SupportedPathNames()
    {
        var paths = new List<string> { "Scalar64", "Sum" };
        if (Vector128.IsHardwareAccelerated) paths.Add("Vector128");
        if (Vector256.IsHardwareAccelerated) paths.Add("Vector256");
        if (Vector512.IsHardwareAccelerated) paths.Add("Vector512");
        return paths;
    }

    public static TheoryData<string> SupportedPaths() => new(SupportedPathNames());

    [Fact]
    public void SupportedPaths_ThisProcess_MatchHardwareFlags()
    {
        List<string> names = SupportedPathNames();
        Assert.Equal(Vector128.IsHardwareAccelerated, names.Contains("Vector128"));
        Assert.Equal(Vector256.IsHardwareAccelerated, names.Contains("Vector256"));
        Assert.Equal(Vector512.IsHardwareAccelerated, names.Contains("Vector512"));
    }

    // 4097 lengths x 64 alignments over a 64-byte-aligned buffer of random bytes; a quarter of the cases
    // start from 0, the rest from a random 32-bit initial value.
    [Theory]
    [MemberData(nameof(SupportedPaths))]
    public void SumPath_EveryLengthAndAlignment_FoldEqualsScalar(string name)
    {
        SumPath sum = Path(name);
        const int MaxLength = 4096, Alignments = 64;
        byte* buffer = (byte*)NativeMemory.AlignedAlloc(MaxLength + Alignments, 64);
        try
        {
            var rng = new Random(1071);
            var all = new Span<byte>(buffer, MaxLength + Alignments);
            rng.NextBytes(all);
            for (int length = 0; length <= MaxLength; length++)
            {
                for (int align = 0; align < Alignments; align++)
                {
                    uint initial = (align & 3) == 0 ? 0 : (uint)rng.NextInt64(0, 1L << 32);
                    var data = new ReadOnlySpan<byte>(buffer + align, length);
                    ushort expected = InternetChecksum.Fold(InternetChecksum.SumScalar(data, initial));
                    ushort actual = InternetChecksum.Fold(sum(data, initial));
                    if (expected != actual)
                        Assert.Fail($"{name}: length {length} align {align} initial 0x{initial:x8}: 0x{actual:x4} != scalar 0x{expected:x4}");
                }
            }
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
        }
    }

    // All-0xFF data makes every lane add the largest value possible: an accumulator that dropped a carry
    // would fold to something other than 0xFFFF.
    [Theory]
    [MemberData(nameof(SupportedPaths))]
    public void SumPath_AllOnesLargeBuffers_FoldIsFfff(string name)
    {
        SumPath sum = Path(name);
        byte[] ones = new byte[(1 << 20) + 1];
        ones.AsSpan().Fill(0xFF);
        foreach (int length in new[] { 65535, 65536, 65537, 1 << 20, (1 << 20) + 1 })
        {
            foreach (uint initial in new uint[] { 0, 1, 0xFFFF, 0xFFFF_FFFF })
            {
                ReadOnlySpan<byte> data = ones.AsSpan(0, length);
                ushort expected = InternetChecksum.Fold(InternetChecksum.SumScalar(data, initial));
                Assert.Equal(expected, InternetChecksum.Fold(sum(data, initial)));
            }
            // Even: only 0xffff words. Odd: one more 0xff00 (the padded last byte) on top of a 0xffff multiple.
            Assert.Equal(length % 2 == 0 ? 0xFFFF : 0xFF00, InternetChecksum.Fold(sum(ones.AsSpan(0, length), 0)));
        }
    }

    // One's complement has two zeros; the reference gives 0x0000 only for all-zero data from initial 0, and
    // 0xFFFF for any other multiple of 0xFFFF. The fast paths must make the same distinction.
    [Theory]
    [MemberData(nameof(SupportedPaths))]
    public void SumPath_ZeroDataAndNegativeZero_KeepOnesComplementZeros(string name)
    {
        SumPath sum = Path(name);
        byte[] zeros = new byte[300];
        for (int length = 0; length <= zeros.Length; length++)
        {
            ReadOnlySpan<byte> data = zeros.AsSpan(0, length);
            Assert.Equal(0, InternetChecksum.Fold(sum(data, 0)));
            Assert.Equal(0xFFFF, InternetChecksum.Fold(sum(data, 0xFFFF)));
            Assert.Equal(0xFFFF, InternetChecksum.Fold(sum(data, 0xFFFF_FFFF)));
        }
        // 0x00 0x01 0xff 0xfe sums to exactly 0xffff; the same pattern repeated gives other multiples.
        byte[] pattern = new byte[256];
        for (int i = 0; i < pattern.Length; i += 4) { pattern[i + 1] = 0x01; pattern[i + 2] = 0xFF; pattern[i + 3] = 0xFE; }
        for (int length = 4; length <= pattern.Length; length += 4)
            Assert.Equal(0xFFFF, InternetChecksum.Fold(sum(pattern.AsSpan(0, length), 0)));
    }

    // Pseudo-header + header + payload style chaining: the partial of one piece is the initial of the next.
    [Theory]
    [MemberData(nameof(SupportedPaths))]
    public void SumPath_ChainedEvenPieces_EqualsWhole(string name)
    {
        SumPath sum = Path(name);
        var rng = new Random(1624);
        byte[] data = new byte[3000];
        rng.NextBytes(data);
        for (int round = 0; round < 2000; round++)
        {
            int length = rng.Next(0, data.Length + 1);
            int cut = rng.Next(0, length / 2 + 1) * 2;
            uint initial = (uint)rng.NextInt64(0, 1L << 32);
            uint partial = sum(data.AsSpan(0, cut), initial);
            ushort chained = InternetChecksum.Fold(sum(data.AsSpan(cut, length - cut), partial));
            Assert.Equal(InternetChecksum.Fold(InternetChecksum.SumScalar(data.AsSpan(0, length), initial)), chained);
        }
    }

    [Fact]
    public void Compute_RandomBuffers_VerifiesAfterStoring()
    {
        var rng = new Random(791);
        byte[] data = new byte[1502];
        for (int round = 0; round < 500; round++)
        {
            int length = rng.Next(12, data.Length + 1) & ~1;
            rng.NextBytes(data);
            data[10] = 0; data[11] = 0;
            ushort checksum = InternetChecksum.Compute(data.AsSpan(0, length));
            data[10] = (byte)(checksum >> 8); data[11] = (byte)checksum;
            Assert.True(InternetChecksum.Verify(data.AsSpan(0, length)));
            data[length / 2] ^= 0x10;
            Assert.False(InternetChecksum.Verify(data.AsSpan(0, length)));
        }
    }
}
