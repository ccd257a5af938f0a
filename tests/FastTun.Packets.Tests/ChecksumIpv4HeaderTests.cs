using System.Buffers.Binary;
using System.Runtime.InteropServices;
using FastTun.Packets.Checksum;
using FastTun.Packets.Datapath;

namespace FastTun.Packets.Tests;

/// <summary>Ipv4HeaderChecksum (fixed-size path, general path, batch writers) against the scalar oracle.</summary>
public unsafe class ChecksumIpv4HeaderTests
{
    [Fact]
    public void TryCompute_KnownHeaderWithGarbageInField_MatchesWire()
    {
        byte[] header = Convert.FromHexString("450000730000400040110000c0a80001c0a800c7");
        header[10] = 0x12; header[11] = 0x34; // the field is ignored
        Assert.True(Ipv4HeaderChecksum.TryCompute(header, out ushort checksum));
        Assert.Equal(0xb861, checksum);
        Assert.False(Ipv4HeaderChecksum.Verify(header));
        Assert.True(Ipv4HeaderChecksum.TryWrite(header));
        Assert.True(Ipv4HeaderChecksum.Verify(header));
        Assert.True(InternetChecksum.Verify(header));
    }

    [Fact]
    public void TryCompute_RandomHeadersEveryIhl_MatchesOracle()
    {
        var rng = new Random(791);
        byte[] header = new byte[64];
        for (int round = 0; round < 50_000; round++)
        {
            int ihl = round % 3 == 0 ? 5 : rng.Next(5, 16);
            int extra = rng.Next(0, 4);
            ChecksumTestHeaders.FillRandom(rng, header, ihl);
            header[10] = (byte)rng.Next(256); header[11] = (byte)rng.Next(256);
            Assert.True(Ipv4HeaderChecksum.TryCompute(header.AsSpan(0, ihl * 4 + extra), out ushort checksum));
            Assert.Equal(ChecksumTestHeaders.OracleChecksum(header.AsSpan(0, ihl * 4)), checksum);
        }
    }

    // Headers whose words sum to a multiple of 0xFFFF must get checksum 0x0000 (never 0xFFFF, which only an
    // all-zero header could produce): the identification word is chosen to make that happen.
    [Fact]
    public void TryCompute_SumIsOnesComplementZero_ChecksumIsZero()
    {
        var rng = new Random(65535);
        byte[] header = new byte[20];
        for (int round = 0; round < 5000; round++)
        {
            ChecksumTestHeaders.FillRandom(rng, header, 5);
            header[4] = 0; header[5] = 0;
            uint sum = (ushort)~ChecksumTestHeaders.OracleChecksum(header);
            ushort id = (ushort)((0xFFFF - sum) % 0xFFFF);
            header[4] = (byte)(id >> 8); header[5] = (byte)id;
            Assert.Equal(0x0000, ChecksumTestHeaders.OracleChecksum(header));
            Assert.True(Ipv4HeaderChecksum.TryCompute(header, out ushort checksum));
            Assert.Equal(0x0000, checksum);
            fixed (byte* p = header)
            {
                header[10] = 0xAB;
                Ipv4HeaderChecksum.WriteBatch([(nint)p]);
            }
            Assert.Equal(0x0000, ChecksumTestHeaders.StoredChecksum(header));
        }
    }

    // Every kind of malformed header is refused without an exception and without touching the bytes.
    [Theory]
    [InlineData("4500007300004000401100", 0)]           // 11 bytes: shorter than 20
    [InlineData("450000730000400040110000c0a80001c0a800", 0)] // 19 bytes
    [InlineData("650000730000400040110000c0a80001c0a800c7", 0)] // version 6
    [InlineData("440000730000400040110000c0a80001c0a800c7", 0)] // IHL 4
    [InlineData("400000730000400040110000c0a80001c0a800c7", 0)] // IHL 0
    [InlineData("460000730000400040110000c0a80001c0a800c7", 3)] // IHL 6 but only 23 bytes
    [InlineData("4f0000730000400040110000c0a80001c0a800c7", 39)] // IHL 15 but only 59 bytes
    public void TryWrite_Malformed_ReturnsFalseUntouched(string hex, int extraBytes)
    {
        byte[] header = [.. Convert.FromHexString(hex), .. new byte[extraBytes]];
        byte[] before = (byte[])header.Clone();
        Assert.False(Ipv4HeaderChecksum.TryCompute(header, out _));
        Assert.False(Ipv4HeaderChecksum.TryWrite(header));
        Assert.False(Ipv4HeaderChecksum.Verify(header));
        Assert.Equal(before, header);
    }

    // 64 headers (a third with options) at odd addresses in one native block: the pointer batch writes what
    // TryWrite writes header by header, and leaves the non-IPv4 one alone.
    [Fact]
    public void WriteBatch_Pointers_MatchesSingle()
    {
        const int Count = 64, Stride = 67;
        var rng = new Random(1500);
        byte* block = (byte*)NativeMemory.AlignedAlloc(Count * Stride, 64);
        try
        {
            for (int round = 0; round < 200; round++)
            {
                var blockSpan = new Span<byte>(block, Count * Stride);
                var pointers = new nint[Count];
                var expected = new byte[Count][];
                for (int i = 0; i < Count; i++)
                {
                    Span<byte> header = blockSpan.Slice(i * Stride + (i & 3), 60);
                    int ihl = i % 3 == 0 ? rng.Next(6, 16) : 5;
                    ChecksumTestHeaders.FillRandom(rng, header, ihl);
                    header[10] = (byte)rng.Next(256); header[11] = (byte)rng.Next(256);
                    if (i == 17) header[0] = 0x65; // not IPv4: must stay as it is
                    pointers[i] = (nint)block + i * Stride + (i & 3);
                    byte[] copy = header.Slice(0, ihl * 4).ToArray();
                    Ipv4HeaderChecksum.TryWrite(copy);
                    expected[i] = copy;
                }
                Ipv4HeaderChecksum.WriteBatch(pointers);
                for (int i = 0; i < Count; i++)
                {
                    var header = new ReadOnlySpan<byte>((byte*)pointers[i], expected[i].Length);
                    Assert.True(header.SequenceEqual(expected[i]), $"round {round} header {i}");
                    if (i != 17) Assert.True(Ipv4HeaderChecksum.Verify(header));
                }
            }
        }
        finally
        {
            NativeMemory.AlignedFree(block);
        }
    }

    // The AVX2 batch (eight headers side by side) against the scalar reference, header by header: every count from
    // 0 to 40 (full groups and tails), all IHL 5 (every group takes the vector path) or with an option header or a
    // non-IPv4 one in some groups (those groups go one by one). Under DOTNET_EnableHWIntrinsic=0 / EnableAVX2=0 the
    // method is the scalar batch, which must match all the same.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WriteBatchAvx2_RandomHeaders_MatchesScalarReference(bool mixed)
    {
        const int Stride = 67;
        var rng = new Random(mixed ? 21 : 20);
        byte* block = (byte*)NativeMemory.AlignedAlloc(40 * Stride, 64);
        try
        {
            for (int round = 0; round < 300; round++)
            {
                int count = round % 41;
                var blockSpan = new Span<byte>(block, 40 * Stride);
                var pointers = new nint[count];
                var expected = new byte[count][];
                for (int i = 0; i < count; i++)
                {
                    int at = i * Stride + rng.Next(4);
                    Span<byte> header = blockSpan.Slice(at, 60);
                    int ihl = mixed && rng.Next(10) == 0 ? rng.Next(6, 16) : 5;
                    ChecksumTestHeaders.FillRandom(rng, header, ihl);
                    header[10] = (byte)rng.Next(256); header[11] = (byte)rng.Next(256);
                    bool notIpv4 = mixed && rng.Next(25) == 0;
                    if (notIpv4) header[0] = 0x65;
                    pointers[i] = (nint)block + at;
                    byte[] copy = header.Slice(0, ihl * 4).ToArray();
                    if (!notIpv4)
                    {
                        // The reference: RFC 1071 over the header with the field taken as zero.
                        copy[10] = copy[11] = 0;
                        ushort reference = InternetChecksum.Compute(copy);
                        copy[10] = (byte)(reference >> 8);
                        copy[11] = (byte)reference;
                    }
                    expected[i] = copy;
                }
                Ipv4HeaderChecksum.WriteBatchAvx2(pointers);
                for (int i = 0; i < count; i++)
                {
                    var header = new ReadOnlySpan<byte>((byte*)pointers[i], expected[i].Length);
                    Assert.True(header.SequenceEqual(expected[i]), $"round {round} header {i}");
                }
            }
        }
        finally
        {
            NativeMemory.AlignedFree(block);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(14)]
    [InlineData(18)]
    public void WriteBatch_PacketBatch_MatchesSingleAndMarksMalformed(int l3Offset)
    {
        var rng = new Random(l3Offset);
        using var pool = new FramePool(256, 256, 64);
        var batch = new PacketBatch(256);
        for (int round = 0; round < 20; round++)
        {
            int count = rng.Next(1, 257);
            var expectedData = new byte[count][];
            var expectedDrop = new DropReason[count];
            for (int i = 0; i < count; i++)
            {
                ref Frame f = ref batch.Add();
                Assert.True(pool.TryRent(ref f));
                int kind = rng.Next(0, 16);
                int ihl = kind == 1 ? rng.Next(6, 16) : 5;
                f.Length = l3Offset + ihl * 4 + rng.Next(0, 40);
                Span<byte> data = f.Data;
                rng.NextBytes(data);
                ChecksumTestHeaders.FillRandom(rng, data.Slice(l3Offset), ihl);
                data[l3Offset + 10] = (byte)rng.Next(256);
                switch (kind)
                {
                    case 2: f.Drop = DropReason.NoRoute; break;                     // already dropped: skipped
                    case 3: f.Length = l3Offset + rng.Next(0, 20); break;          // truncated
                    case 4: data[l3Offset] = 0x65; break;                           // version 6
                    case 5: data[l3Offset] = 0x43; break;                           // IHL 3
                    case 6: data[l3Offset] = 0x4f; f.Length = l3Offset + 40; break; // options beyond the data
                }
                expectedDrop[i] = kind switch
                {
                    2 => DropReason.NoRoute,
                    3 or 6 => DropReason.Truncated,
                    4 => DropReason.BadIpVersion,
                    5 => DropReason.BadIpHeaderLength,
                    _ => DropReason.None,
                };
                byte[] copy = f.Data.ToArray();
                if (expectedDrop[i] == DropReason.None)
                    Assert.True(Ipv4HeaderChecksum.TryWrite(copy.AsSpan(l3Offset)));
                expectedData[i] = copy;
            }

            Ipv4HeaderChecksum.WriteBatch(batch, l3Offset);

            for (int i = 0; i < count; i++)
            {
                ref Frame f = ref batch[i];
                Assert.Equal(expectedDrop[i], f.Drop);
                Assert.True(f.Data.SequenceEqual(expectedData[i]), $"round {round} frame {i}");
                pool.Return(f);
            }
            batch.Clear();
        }
    }

    [Fact]
    public void WriteBatch_OffsetOutOfRange_Throws()
    {
        var batch = new PacketBatch(4);
        Assert.Throws<ArgumentOutOfRangeException>(() => Ipv4HeaderChecksum.WriteBatch(batch, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ipv4HeaderChecksum.WriteBatch(batch, int.MaxValue - 10));
    }
    [Fact]
    public void IsMultipleOfFfff_SmallAndRandomSums_MatchesModulo()
    {
        for (ulong n = 0; n < 400_000; n++) Assert.Equal(n % 0xFFFF == 0, InternetChecksum.IsMultipleOfFfff(n));
        var rng = new Random(1071);
        for (int round = 0; round < 200_000; round++)
        {
            ulong n = (ulong)rng.NextInt64() << rng.Next(0, 2); // the whole 64-bit range
            ulong multiple = n / 0xFFFF * 0xFFFF; // and a multiple next to it
            Assert.Equal(n % 0xFFFF == 0, InternetChecksum.IsMultipleOfFfff(n));
            Assert.True(InternetChecksum.IsMultipleOfFfff(multiple));
            Assert.False(InternetChecksum.IsMultipleOfFfff(multiple + 1 + (ulong)rng.Next(0xFFFE)));
        }
        Assert.Equal(ulong.MaxValue % 0xFFFF == 0, InternetChecksum.IsMultipleOfFfff(ulong.MaxValue));
    }

    /// <summary>IsValid20 (add tree and a multiply) against Verify (the fold) on random 20-byte headers: valid ones, one
    /// bit flipped, random fields, and headers whose words sum to a multiple of 0xFFFF with a 0x0000 or 0xFFFF field.</summary>
    [Fact]
    public void IsValid20_RandomHeaders_MatchesVerify()
    {
        var rng = new Random(791_20);
        byte[] header = new byte[20];
        int valid = 0;
        for (int round = 0; round < 300_000; round++)
        {
            ChecksumTestHeaders.FillRandom(rng, header, 5);
            switch (round % 4)
            {
                case 0: Ipv4HeaderChecksum.TryWrite(header); break;
                case 1: Ipv4HeaderChecksum.TryWrite(header); header[rng.Next(20)] ^= (byte)(1 << rng.Next(8)); break;
                case 2: header[10] = (byte)rng.Next(256); header[11] = (byte)rng.Next(256); break;
                default:
                    Ipv4HeaderChecksum.TryWrite(header);
                    ushort field = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(10));
                    if (field == 0) header[10] = header[11] = 0xFF; // the other encoding of zero: still sums to 0xFFFF
                    else if (field == 0xFFFF) header[10] = header[11] = 0;
                    break;
            }
            bool expected = InternetChecksum.Verify(header);
            valid += expected ? 1 : 0;
            Assert.Equal(expected, Ipv4HeaderChecksum.IsValid20(Word(header, 0), Word(header, 4), Word(header, 8), Word(header, 12), Word(header, 16)));
        }
        Assert.InRange(valid, 140_000, 160_000); // the valid and invalid cases are both exercised
        Assert.False(Ipv4HeaderChecksum.IsValid20(0, 0, 0, 0, 0)); // all zeros sum to 0, not 0xFFFF
    }

    private static uint Word(byte[] header, int offset) => MemoryMarshal.Read<uint>(header.AsSpan(offset));
}
