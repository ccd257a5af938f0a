using System.Runtime.CompilerServices;
using FastTun.Linux.Interop;

namespace FastTun.Linux.AfXdp;

/// <summary>
/// One of the four AF_XDP rings of a socket, mapped from the kernel: a power-of-two array of entries (u64 UMEM
/// addresses for fill and completion, <see cref="xdp_desc"/> for rx and tx) with free-running 32-bit producer
/// and consumer indices. The side we own is written from a cached copy; the kernel's side is read only when
/// the cached view runs out (the libxdp xsk.h protocol), so a burst costs one shared-index load and one store.
/// </summary>
internal unsafe struct XskRing
{
    public uint* Producer;
    public uint* Consumer;
    public uint* Flags;
    public byte* Entries;
    public uint Mask;
    public uint Size;
    /// <summary>Our copy of the producer index (ours on fill/tx; the kernel's last seen value on rx/completion).</summary>
    public uint CachedProducer;
    /// <summary>Our copy of the consumer index (the kernel's last seen value on fill/tx; ours on rx/completion).</summary>
    public uint CachedConsumer;
    /// <summary>The whole mmap, for munmap.</summary>
    public void* Map;
    public nuint MapLength;

    // ---- producer side (fill, tx) ----

    /// <summary>Free slots, re-reading the kernel's consumer index only when fewer than <paramref name="wanted"/>
    /// are known free.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint ProducerFree(uint wanted)
    {
        uint free = Size - (CachedProducer - CachedConsumer);
        if (free >= wanted) return free;
        // Acquire: the kernel has finished reading the entries up to this index before we overwrite them.
        CachedConsumer = Volatile.Read(ref *Consumer);
        return Size - (CachedProducer - CachedConsumer);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref ulong AddrAt(uint index) => ref ((ulong*)Entries)[index & Mask];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref xdp_desc DescAt(uint index) => ref ((xdp_desc*)Entries)[index & Mask];

    /// <summary>Publishes every entry written up to <see cref="CachedProducer"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ProducerSubmit()
    {
        // Release: the entries written above are visible to the kernel before the index that covers them.
        Volatile.Write(ref *Producer, CachedProducer);
    }

    // ---- consumer side (rx, completion) ----

    /// <summary>Entries ready to read, re-reading the kernel's producer index only when the cached view is empty.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint ConsumerAvailable()
    {
        uint ready = CachedProducer - CachedConsumer;
        if (ready != 0) return ready;
        // Acquire: the entries the kernel wrote before advancing its producer index are visible to our reads.
        CachedProducer = Volatile.Read(ref *Producer);
        return CachedProducer - CachedConsumer;
    }

    /// <summary>Hands every entry read up to <see cref="CachedConsumer"/> back to the kernel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ConsumerRelease()
    {
        // Release: our reads of the entries complete before the kernel may overwrite them.
        Volatile.Write(ref *Consumer, CachedConsumer);
    }

    /// <summary>True when the kernel asks for a syscall to make progress (XDP_USE_NEED_WAKEUP).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool NeedsWakeup()
        // Volatile: the kernel sets and clears the flag from its own context; a stale read only costs one
        // extra or one delayed syscall, the ring protocol does not depend on it.
        => (Volatile.Read(ref *Flags) & Libc.XDP_RING_NEED_WAKEUP) != 0;

    // ---- accounting (control path) ----

    /// <summary>Entries published by the producer and not yet released by the consumer, from the shared indices.</summary>
    public readonly uint Occupancy()
    {
        // Volatile: snapshot of both shared indices for the accounting view; not used for ring progress.
        uint prod = Volatile.Read(ref *Producer);
        uint cons = Volatile.Read(ref *Consumer);
        return prod - cons;
    }
}
