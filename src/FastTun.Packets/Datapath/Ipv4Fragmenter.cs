using System.Buffers.Binary;
using FastTun.Packets.Headers;

namespace FastTun.Packets.Datapath;

/// <summary>
/// Splits an IPv4 packet that is larger than an MTU into fragments (RFC 791 §3.2), as the kernel does for a
/// non-DF packet that does not fit a tunnel or an interface. The first fragment keeps every option; later ones
/// keep only options with the "copied" bit. Fragments keep the ID, TTL and TOS of the original and carry the
/// original's MF on the last piece, so a packet that was already a fragment is split correctly.
/// Rare path: it copies into <see cref="FramePool"/> frames.
/// </summary>
public static class Ipv4Fragmenter
{
    /// <summary>
    /// Fragments <paramref name="packet"/> (starting at its IPv4 header) into pieces of at most
    /// <paramref name="mtu"/> bytes, each written into a frame rented from <paramref name="pool"/> (data starting
    /// at the IPv4 header) and appended to <paramref name="output"/> with <paramref name="template"/>'s ports.
    /// On failure nothing is appended: frames already rented go back to the pool.
    /// </summary>
    public static DropReason Fragment(ReadOnlySpan<byte> packet, int mtu, FramePool pool, PacketBatch output, in Frame template) =>
        Fragment(packet, mtu, pool, output, in template, output.Capacity);

    /// <summary>As above, appending no more than up to <paramref name="outputLimit"/> frames in
    /// <paramref name="output"/>.</summary>
    public static DropReason Fragment(ReadOnlySpan<byte> packet, int mtu, FramePool pool, PacketBatch output, in Frame template, int outputLimit)
    {
        Span<byte> copy = stackalloc byte[Ipv4HeaderMaxLength];
        if (!Ipv4Header.TryParse(MemoryMarshalHelpers.AsWritable(packet), out var ip)) return DropReason.FragmentMalformed;
        int headerLength = ip.HeaderLength;
        int total = ip.TotalLength;
        int baseOffset = ip.FragmentOffset;
        bool originalMore = ip.MoreFragments;
        int dataLength = total - headerLength;

        // Later fragments carry only the options whose copied flag (bit 7 of the type) is set.
        int laterHeaderLength = CopiedOptions(ip.Bytes, copy);
        int firstChunk = (mtu - headerLength) & ~7;
        int laterChunk = (mtu - laterHeaderLength) & ~7;
        if (firstChunk <= 0 || laterChunk <= 0) return DropReason.FragmentMalformed;

        int pieces = 1 + (dataLength > firstChunk ? (dataLength - firstChunk + laterChunk - 1) / laterChunk : 0);
        if (output.Count + pieces > Math.Min(output.Capacity, outputLimit)) return DropReason.NoHeadroom;
        if (pool.Available < pieces) return DropReason.NoHeadroom;

        int start = output.Count;
        int offset = 0;
        while (offset < dataLength)
        {
            bool first = offset == 0;
            int h = first ? headerLength : laterHeaderLength;
            int chunk = Math.Min(first ? firstChunk : laterChunk, dataLength - offset);
            bool last = offset + chunk == dataLength;

            ref Frame f = ref output.Add();
            if (!pool.TryRent(ref f) || f.Tailroom < h + chunk)
            {
                if (f.Buffer != 0) pool.Return(f);
                output.Count--;
                Rollback(pool, output, start);
                return DropReason.NoHeadroom;
            }
            f.InPort = template.InPort;
            f.OutPort = template.OutPort;
            f.Scratch = template.Scratch;
            f.Length = h + chunk;
            Span<byte> dst = f.Data;
            if (first) packet.Slice(0, headerLength).CopyTo(dst);
            else
            {
                packet.Slice(0, Ipv4Header.MinLength).CopyTo(dst);
                copy.Slice(0, laterHeaderLength - Ipv4Header.MinLength).CopyTo(dst.Slice(Ipv4Header.MinLength));
                dst[0] = (byte)(0x40 | (laterHeaderLength >> 2));
            }
            packet.Slice(headerLength + offset, chunk).CopyTo(dst.Slice(h));

            // The copied header still carries the original total length, which TryParse would reject.
            BinaryPrimitives.WriteUInt16BigEndian(dst.Slice(Ipv4Header.TotalLengthOffset), (ushort)(h + chunk));
            Ipv4Header.TryParse(dst, out var fh);
            ushort flags = (ushort)(fh.FlagsAndFragment & Ipv4Header.FlagDontFragment);
            if (!last || originalMore) flags |= Ipv4Header.FlagMoreFragments;
            fh.FlagsAndFragment = (ushort)(flags | ((baseOffset + offset) >> 3));
            fh.ComputeChecksum();
            offset += chunk;
        }
        return DropReason.None;
    }

    private const int Ipv4HeaderMaxLength = 60;

    /// <summary>Writes the copied options of <paramref name="header"/> into <paramref name="into"/> (padded
    /// with End-of-Option to a 4-byte multiple) and returns the later fragments' header length.</summary>
    private static int CopiedOptions(ReadOnlySpan<byte> header, Span<byte> into)
    {
        int n = 0;
        for (int i = Ipv4Header.MinLength; i < header.Length;)
        {
            byte type = header[i];
            if (type == 0) break;                 // End of option list
            if (type == 1) { i++; continue; }     // No-operation: not copied
            if (i + 1 >= header.Length) break;
            int len = header[i + 1];
            if (len < 2 || i + len > header.Length) break;
            if ((type & 0x80) != 0)
            {
                header.Slice(i, len).CopyTo(into.Slice(n));
                n += len;
            }
            i += len;
        }
        while ((n & 3) != 0) into[n++] = 0;
        return Ipv4Header.MinLength + n;
    }

    private static void Rollback(FramePool pool, PacketBatch output, int start)
    {
        for (int i = start; i < output.Count; i++) pool.Return(output[i]);
        output.Count = start;
    }
}

internal static class MemoryMarshalHelpers
{
    /// <summary>The header views take Span&lt;byte&gt;; the fragmenter only reads through this one.</summary>
    public static Span<byte> AsWritable(ReadOnlySpan<byte> span) =>
        System.Runtime.InteropServices.MemoryMarshal.CreateSpan(
            ref System.Runtime.InteropServices.MemoryMarshal.GetReference(span), span.Length);
}
