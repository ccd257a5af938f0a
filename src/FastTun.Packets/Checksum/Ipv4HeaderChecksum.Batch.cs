using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using FastTun.Packets.Datapath;

namespace FastTun.Packets.Checksum;

public static unsafe partial class Ipv4HeaderChecksum
{
    /// <summary>
    /// Writes the checksum of every header addressed by <paramref name="headers"/>. Like DPDK's
    /// rte_ipv4_cksum the caller vouches for the memory: each pointer addresses a header whose IHL*4 bytes, and at
    /// least 20, are readable and writable. Headers with options (or a first byte other than 0x45) take the general
    /// path; a header whose version is not 4 or whose IHL is below 5 is left untouched. With AVX2, eight headers at
    /// a time (<see cref="WriteBatchAvx2"/>, 1.0 against 1.5 ns per header in Ipv4HeaderChecksumBenchmarks);
    /// otherwise header by header (<see cref="WriteBatchScalar"/>, the reference).
    /// </summary>
    public static void WriteBatch(ReadOnlySpan<nint> headers)
    {
        if (Avx2.IsSupported) WriteBatchAvx2(headers);
        else WriteBatchScalar(headers);
    }

    /// <summary><see cref="WriteBatch(ReadOnlySpan{nint})"/> header by header: the scalar reference the vector
    /// batch is tested against, and its path for groups with options and for the tail.</summary>
    public static void WriteBatchScalar(ReadOnlySpan<nint> headers)
    {
        for (int i = 0; i < headers.Length; i++)
        {
            byte* h = (byte*)headers[i];
            if (*h == VersionIhlNoOptions)
                Unsafe.WriteUnaligned(h + ChecksumOffset, NativeChecksum20(ref *h));
            else
                WriteGeneral(new Span<byte>(h, MaxHeaderLength));
        }
    }

    /// <summary>
    /// Writes the IPv4 header checksum of every frame in <paramref name="batch"/> whose header starts
    /// <paramref name="l3Offset"/> bytes into its data (0 right after encapsulation, 14 behind an untagged
    /// Ethernet header). Frames already dropped are skipped. A frame too short for its header, or whose header
    /// is not IPv4 with IHL ≥ 5, is marked dropped (Truncated, BadIpVersion or BadIpHeaderLength) and left
    /// untouched, so a malformed frame never makes this read or write outside its data.
    /// </summary>
    public static void WriteBatch(PacketBatch batch, int l3Offset = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(l3Offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(l3Offset, ushort.MaxValue);
        Span<Frame> frames = batch.Frames;
        nint l3 = l3Offset;
        int minLength = l3Offset + MinHeaderLength; // hoisted: one compare per frame instead of subtract and compare
        for (int i = 0; i < frames.Length; i++)
        {
            ref Frame f = ref frames[i];
            byte* h = (byte*)f.Buffer + l3 + f.Offset;
            if (f.Drop == DropReason.None && f.Length >= minLength && *h == VersionIhlNoOptions)
                Unsafe.WriteUnaligned(h + ChecksumOffset, NativeChecksum20(ref *h));
            else
                WriteFrameGeneral(ref f, l3Offset);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void WriteGeneral(Span<byte> header)
    {
        int length = (header[0] & 0x0F) * 4;
        if (length >= MinHeaderLength) TryWrite(header.Slice(0, length));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void WriteFrameGeneral(ref Frame frame, int l3Offset)
    {
        if (frame.Drop != DropReason.None) return;
        if (frame.Length - l3Offset < MinHeaderLength)
        {
            frame.Drop = DropReason.Truncated;
            return;
        }
        Span<byte> header = frame.Data.Slice(l3Offset);
        if ((header[0] >> 4) != 4)
            frame.Drop = DropReason.BadIpVersion;
        else if (!TryWrite(header))
            frame.Drop = (header[0] & 0x0F) < 5 ? DropReason.BadIpHeaderLength : DropReason.Truncated;
    }
}
