using System.Runtime.CompilerServices;

namespace FastTun.Packets.Datapath;

/// <summary>Per-frame flags carried through the pipeline.</summary>
[Flags]
public enum FrameFlags : ushort
{
    None = 0,
    /// <summary>A zero-copy TxBurst took the buffer: the rx port must not recycle it in RxDone.</summary>
    TxOwned = 1 << 0,
    /// <summary>The frame is in a buffer of the pipeline's own <see cref="FramePool"/> (ICMP, ARP, fragment, parked
    /// copy): the pipeline returns it there after transmission. Rx frames never carry it.</summary>
    Generated = 1 << 1,
    /// <summary>A reassembled datagram in an <see cref="Ipv4Reassembler"/> buffer (with <see cref="Generated"/>).</summary>
    Reassembled = 1 << 2,
    /// <summary>A packet another worker handed over for a sequenced tunnel, in a <see cref="TunnelHandoff"/>
    /// ring slot: released to the ring after transmission, never to a port or a pool.</summary>
    Handoff = 1 << 3,
}

/// <summary>
/// Descriptor of one frame in a batch. The bytes live elsewhere (a ring, a UMEM, a <see cref="FramePool"/>);
/// <see cref="Offset"/> bytes of headroom sit in front of the data so an outer header can be prepended
/// without moving the payload. 40 bytes: a batch of 64 descriptors is 40 cache lines.
/// </summary>
public struct Frame
{
    /// <summary>Start of the buffer, headroom included.</summary>
    public nint Buffer;
    /// <summary>Owner-private handle: UMEM address, ring block, pool slot.</summary>
    public ulong Handle;
    /// <summary>Start of the frame data within the buffer (= headroom available).</summary>
    public int Offset;
    /// <summary>Bytes of frame data, starting with the Ethernet header.</summary>
    public int Length;
    /// <summary>Total bytes of the buffer.</summary>
    public int Capacity;
    public ushort InPort;
    /// <summary>Egress port id chosen by the pipeline, or <see cref="PacketBatch.NoPort"/>.</summary>
    public ushort OutPort;
    public DropReason Drop;
    public FrameFlags Flags;
    /// <summary>Scratch for the pipeline (next-hop index, tunnel index, …).</summary>
    public uint Scratch;

    public readonly unsafe Span<byte> Data
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => new((byte*)Buffer + Offset, Length);
    }

    /// <summary>Writable space after the data, for growing a frame in place.</summary>
    public readonly int Tailroom => Capacity - Offset - Length;

    /// <summary>Moves the data start back by <paramref name="bytes"/> (consuming headroom) and returns the new
    /// front bytes. The caller has checked <c>Offset &gt;= bytes</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe Span<byte> Prepend(int bytes)
    {
        Offset -= bytes;
        Length += bytes;
        return new((byte*)Buffer + Offset, bytes);
    }

    /// <summary>Drops <paramref name="bytes"/> from the front of the data (decapsulation).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void TrimFront(int bytes)
    {
        Offset += bytes;
        Length -= bytes;
    }
}
