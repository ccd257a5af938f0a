using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

/// <summary>linux/if_xdp.h struct xdp_ring_offset: where producer, consumer, flags and descriptors sit in a
/// ring's mmap.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct xdp_ring_offset
{
    public ulong producer;
    public ulong consumer;
    public ulong desc;
    public ulong flags;
}
