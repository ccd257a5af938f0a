using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using FastTun.Packets.Checksum;

namespace FastTun.Packets.Tests;

/// <summary>RFC 1624 incremental updates against a full recomputation on random headers.</summary>
public class ChecksumIncrementalTests
{
    // RFC 1624 §4: HC 0xDD2F, a word 0x5555 -> 0x3285. Eqn. 3 gives 0x0000 (eqn. 2 would give 0xFFFF).
    [Fact]
    public void Update16_Rfc1624Example_IsZero() =>
        Assert.Equal(0x0000, IncrementalChecksum.Update16(0xDD2F, 0x5555, 0x3285));

    [Fact]
    public void Update16_RandomHeaderWordChange_MatchesRecompute()
    {
        var rng = new Random(1624);
        byte[] header = new byte[60];
        ushort[] edgeWords = [0x0000, 0xFFFF, 0x0001, 0xFFFE, 0x8000];
        for (int round = 0; round < 100_000; round++)
        {
            int ihl = rng.Next(5, 16);
            ChecksumTestHeaders.FillRandom(rng, header, ihl);
            int word = rng.Next(0, ihl * 2 - 1);
            if (word >= ChecksumTestHeaders.ChecksumOffset / 2) word++; // any word but the checksum itself
            int offset = word * 2;
            ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(offset));
            ushort newWord = (round & 7) == 0 ? edgeWords[rng.Next(edgeWords.Length)] : (ushort)rng.Next(0x10000);
            ushort updated = IncrementalChecksum.Update16(ChecksumTestHeaders.StoredChecksum(header), oldWord, newWord);
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(offset), newWord);
            Assert.Equal(ChecksumTestHeaders.OracleChecksum(header.AsSpan(0, ihl * 4)), updated);
        }
    }

    // Drive the header into and out of the one's-complement zero: pick the new word so the new sum is a
    // multiple of 0xFFFF (checksum 0x0000), in both of its representations, then change it back.
    [Fact]
    public void Update16_ChangeToAndFromZeroChecksum_MatchesRecompute()
    {
        var rng = new Random(3);
        byte[] header = new byte[20];
        int zeroResults = 0;
        for (int round = 0; round < 20_000; round++)
        {
            ChecksumTestHeaders.FillRandom(rng, header, 5);
            int offset = 2 * rng.Next(0, 5); // words 0..4, never the checksum
            ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(offset));
            uint sum = (ushort)~ChecksumTestHeaders.StoredChecksum(header);
            // new ≡ old - sum (mod 0xFFFF) makes the new sum ≡ 0.
            ushort target = (ushort)((oldWord + 0xFFFF - sum) % 0xFFFF);
            foreach (ushort newWord in target == 0 ? new ushort[] { 0x0000, 0xFFFF } : [target])
            {
                byte[] copy = (byte[])header.Clone();
                ushort updated = IncrementalChecksum.Update16(ChecksumTestHeaders.StoredChecksum(copy), oldWord, newWord);
                BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(offset), newWord);
                ushort expected = ChecksumTestHeaders.OracleChecksum(copy);
                Assert.Equal(expected, updated);
                if (expected == 0) zeroResults++;
                BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(ChecksumTestHeaders.ChecksumOffset), updated);
                ushort back = IncrementalChecksum.Update16(updated, newWord, oldWord);
                Assert.Equal(ChecksumTestHeaders.StoredChecksum(header), back);
            }
        }
        Assert.True(zeroResults > 10_000, $"only {zeroResults} zero checksums reached");
    }

    [Theory]
    [InlineData(12)] // source address
    [InlineData(16)] // destination address
    public void Update32_RandomAddressRewrite_MatchesRecompute(int offset)
    {
        var rng = new Random(offset);
        byte[] header = new byte[60];
        uint[] edgeAddresses = [0x0000_0000, 0xFFFF_FFFF, 0x0000_FFFF, 0xFFFF_0000];
        for (int round = 0; round < 100_000; round++)
        {
            int ihl = rng.Next(5, 16);
            ChecksumTestHeaders.FillRandom(rng, header, ihl);
            uint oldValue = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(offset));
            uint newValue = (round & 7) == 0 ? edgeAddresses[rng.Next(edgeAddresses.Length)] : (uint)rng.NextInt64(0, 1L << 32);
            ushort updated = IncrementalChecksum.Update32(ChecksumTestHeaders.StoredChecksum(header), oldValue, newValue);
            BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(offset), newValue);
            Assert.Equal(ChecksumTestHeaders.OracleChecksum(header.AsSpan(0, ihl * 4)), updated);
        }
    }

    [Fact]
    public void TryDecrementTtl_RandomHeaders_MatchesRecompute()
    {
        var rng = new Random(64);
        byte[] header = new byte[60];
        for (int round = 0; round < 100_000; round++)
        {
            int ihl = rng.Next(5, 16);
            ChecksumTestHeaders.FillRandom(rng, header, ihl);
            byte ttl = (byte)rng.Next(2, 256);
            header[8] = ttl;
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(10), ChecksumTestHeaders.OracleChecksum(header.AsSpan(0, ihl * 4)));
            Assert.True(IncrementalChecksum.TryDecrementTtl(header.AsSpan(0, ihl * 4)));
            Assert.Equal(ttl - 1, header[8]);
            Assert.Equal(ChecksumTestHeaders.OracleChecksum(header.AsSpan(0, ihl * 4)), ChecksumTestHeaders.StoredChecksum(header));
        }
    }

    // Every TTL from 255 down to 1 on one header: the checksum stays right all the way, including when it
    // passes 0x0000/0xFFFF.
    [Fact]
    public void TryDecrementTtl_DownToOne_StaysValidThenRefuses()
    {
        var rng = new Random(255);
        byte[] header = new byte[20];
        for (int round = 0; round < 2000; round++)
        {
            ChecksumTestHeaders.FillRandom(rng, header, 5);
            header[8] = 255;
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(10), ChecksumTestHeaders.OracleChecksum(header));
            for (int ttl = 254; ttl >= 1; ttl--)
            {
                Assert.True(IncrementalChecksum.TryDecrementTtl(header));
                Assert.Equal(ChecksumTestHeaders.OracleChecksum(header), ChecksumTestHeaders.StoredChecksum(header));
            }
            byte[] before = (byte[])header.Clone();
            Assert.False(IncrementalChecksum.TryDecrementTtl(header));
            Assert.Equal(before, header);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void TryDecrementTtl_TtlZeroOrOne_ReturnsFalseUnchanged(byte ttl)
    {
        byte[] header = Convert.FromHexString("450000730000400040110000c0a80001c0a800c7");
        header[8] = ttl;
        byte[] before = (byte[])header.Clone();
        Assert.False(IncrementalChecksum.TryDecrementTtl(header));
        Assert.Equal(before, header);
    }

    [Fact]
    public void TryDecrementTtl_SpanTooShort_ReturnsFalse()
    {
        byte[] header = Convert.FromHexString("450000730000400040110000c0a80001c0a800c7");
        for (int length = 0; length < 12; length++)
            Assert.False(IncrementalChecksum.TryDecrementTtl(header.AsSpan(0, length)));
        Assert.Equal(0x40, header[8]);
    }

    private unsafe delegate void HeaderEdit(byte* header);

    /// <summary>A raw-pointer TTL decrement against the span version (the oracle), for every 16-bit checksum field
    /// value and TTLs at both ends: the byte-swapped constants must give the same bytes, -0/+0 included.</summary>
    private static unsafe void AssertMatchesTryDecrementTtl(HeaderEdit decrement)
    {
        var expected = new byte[20];
        var actual = new byte[20];
        foreach (byte ttl in new byte[] { 2, 3, 64, 128, 255 })
        {
            for (int checksum = 0; checksum <= 0xFFFF; checksum++)
            {
                expected[8] = ttl;
                expected[9] = 17;
                BinaryPrimitives.WriteUInt16BigEndian(expected.AsSpan(10), (ushort)checksum);
                expected.CopyTo(actual, 0);
                Assert.True(IncrementalChecksum.TryDecrementTtl(expected));
                fixed (byte* p = actual) decrement(p);
                if (!expected.AsSpan().SequenceEqual(actual)) Assert.Fail($"ttl {ttl} checksum {checksum:X4}: {Convert.ToHexString(actual)} != {Convert.ToHexString(expected)}");
            }
        }
    }

    [Fact]
    public unsafe void DecrementTtl_EveryChecksumAndTtl_MatchesTryDecrementTtl() =>
        AssertMatchesTryDecrementTtl(p => IncrementalChecksum.DecrementTtl(p));

    [Fact]
    public unsafe void DecrementTtlWord_EveryChecksumAndTtl_MatchesTryDecrementTtl() =>
        // The word version (pass 3 stores what pass 1 read); the TTL it reports is the header's.
        AssertMatchesTryDecrementTtl(p =>
        {
            uint word = Unsafe.ReadUnaligned<uint>(p + 8);
            if (IncrementalChecksum.TtlOfWord(word) != p[8]) Assert.Fail($"ttl {p[8]}: word says {IncrementalChecksum.TtlOfWord(word)}");
            Unsafe.WriteUnaligned(p + 8, IncrementalChecksum.DecrementTtlWord(word));
        });
}
