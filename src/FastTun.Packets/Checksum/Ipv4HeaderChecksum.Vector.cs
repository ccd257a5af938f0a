using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FastTun.Packets.Checksum;

public static unsafe partial class Ipv4HeaderChecksum
{
    /// <summary>
    /// <see cref="WriteBatchScalar"/> eight headers at a time with AVX2: the checksums of many 20-byte
    /// headers summed side by side in the lanes of a vector instead of one after the other. Each header is read
    /// as two 16-byte loads (bytes 0-15 and 4-19); a header and the one four places later share a 256-bit
    /// register, and a 4×4 transpose of 32-bit words in each 128-bit half (unpack low/high) puts word k of four
    /// headers into one vector, so the sum of a header's words is a lane of the sum of five vectors. Each 32-bit
    /// word is split into its two 16-bit halves before adding (no carry is lost: 10 halves stay below 2^20), the
    /// checksum field (the high half of word 2 in little-endian order) is masked out, and the lanes are folded
    /// twice and complemented, as <see cref="NativeChecksum20"/> does one header. The eight results are stored
    /// natively at offset 10. A group whose headers are not all IHL 5 (first byte 0x45) goes header by header
    /// through the scalar path; so does the tail. Same preconditions as <see cref="WriteBatch(ReadOnlySpan{nint})"/>:
    /// every pointer addresses at least 20 readable and writable bytes (and IHL*4 of them).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WriteBatchAvx2(ReadOnlySpan<nint> headers)
    {
        int i = 0;
        if (Avx2.IsSupported && BitConverter.IsLittleEndian)
        {
            ref nint h = ref MemoryMarshal.GetReference(headers);
            // Keeps bytes 0-9 and 12-15 of bytes 0-15: word 2's high half is the checksum field.
            Vector256<uint> fieldMask = Vector256.Create(0xFFFF_FFFFu, 0xFFFF_FFFFu, 0x0000_FFFFu, 0xFFFF_FFFFu,
                0xFFFF_FFFFu, 0xFFFF_FFFFu, 0x0000_FFFFu, 0xFFFF_FFFFu);
            Vector256<uint> low16 = Vector256.Create(0xFFFFu);
            Vector256<uint> versionIhl = Vector256.Create((uint)VersionIhlNoOptions);
            Vector256<uint> lowByte = Vector256.Create(0xFFu);
            uint* result = stackalloc uint[8];
            for (; i + 8 <= headers.Length; i += 8)
            {
                byte* p0 = (byte*)Unsafe.Add(ref h, i), p1 = (byte*)Unsafe.Add(ref h, i + 1);
                byte* p2 = (byte*)Unsafe.Add(ref h, i + 2), p3 = (byte*)Unsafe.Add(ref h, i + 3);
                byte* p4 = (byte*)Unsafe.Add(ref h, i + 4), p5 = (byte*)Unsafe.Add(ref h, i + 5);
                byte* p6 = (byte*)Unsafe.Add(ref h, i + 6), p7 = (byte*)Unsafe.Add(ref h, i + 7);
                // Words 0-3 of headers (i+j | i+j+4), checksum field masked out.
                Vector256<uint> a = Vector256.Create(Vector128.Load((uint*)p0), Vector128.Load((uint*)p4)) & fieldMask;
                Vector256<uint> b = Vector256.Create(Vector128.Load((uint*)p1), Vector128.Load((uint*)p5)) & fieldMask;
                Vector256<uint> c = Vector256.Create(Vector128.Load((uint*)p2), Vector128.Load((uint*)p6)) & fieldMask;
                Vector256<uint> d = Vector256.Create(Vector128.Load((uint*)p3), Vector128.Load((uint*)p7)) & fieldMask;
                // Words 1-4 (bytes 4-19): only word 4 (their lane 3) is used.
                Vector256<uint> a4 = Vector256.Create(Vector128.Load((uint*)(p0 + 4)), Vector128.Load((uint*)(p4 + 4)));
                Vector256<uint> b4 = Vector256.Create(Vector128.Load((uint*)(p1 + 4)), Vector128.Load((uint*)(p5 + 4)));
                Vector256<uint> c4 = Vector256.Create(Vector128.Load((uint*)(p2 + 4)), Vector128.Load((uint*)(p6 + 4)));
                Vector256<uint> d4 = Vector256.Create(Vector128.Load((uint*)(p3 + 4)), Vector128.Load((uint*)(p7 + 4)));

                // Transpose in each half: w_k = word k of the four headers of that half.
                Vector256<uint> ab01 = Avx2.UnpackLow(a, b), ab23 = Avx2.UnpackHigh(a, b);
                Vector256<uint> cd01 = Avx2.UnpackLow(c, d), cd23 = Avx2.UnpackHigh(c, d);
                Vector256<uint> w0 = Avx2.UnpackLow(ab01.AsUInt64(), cd01.AsUInt64()).AsUInt32();
                Vector256<uint> w1 = Avx2.UnpackHigh(ab01.AsUInt64(), cd01.AsUInt64()).AsUInt32();
                Vector256<uint> w2 = Avx2.UnpackLow(ab23.AsUInt64(), cd23.AsUInt64()).AsUInt32();
                Vector256<uint> w3 = Avx2.UnpackHigh(ab23.AsUInt64(), cd23.AsUInt64()).AsUInt32();
                Vector256<uint> w4 = Avx2.UnpackHigh(Avx2.UnpackHigh(a4, b4).AsUInt64(), Avx2.UnpackHigh(c4, d4).AsUInt64()).AsUInt32();

                if (!Vector256.EqualsAll(w0 & lowByte, versionIhl))
                {
                    WriteBatchScalar(headers.Slice(i, 8)); // options or not IPv4 somewhere in the group: one by one
                    continue;
                }
                Vector256<uint> sum = (w0 & low16) + (w0 >> 16) + (w1 & low16) + (w1 >> 16) + w2 /* low half only */
                                      + (w3 & low16) + (w3 >> 16) + (w4 & low16) + (w4 >> 16);
                sum = (sum & low16) + (sum >> 16);
                sum = (sum & low16) + (sum >> 16);
                (~sum).Store(result);
                // Lanes 0-3: headers i..i+3; lanes 4-7: headers i+4..i+7.
                *(ushort*)(p0 + ChecksumOffset) = (ushort)result[0];
                *(ushort*)(p1 + ChecksumOffset) = (ushort)result[1];
                *(ushort*)(p2 + ChecksumOffset) = (ushort)result[2];
                *(ushort*)(p3 + ChecksumOffset) = (ushort)result[3];
                *(ushort*)(p4 + ChecksumOffset) = (ushort)result[4];
                *(ushort*)(p5 + ChecksumOffset) = (ushort)result[5];
                *(ushort*)(p6 + ChecksumOffset) = (ushort)result[6];
                *(ushort*)(p7 + ChecksumOffset) = (ushort)result[7];
            }
        }
        if (i < headers.Length) WriteBatchScalar(headers.Slice(i));
    }
}
