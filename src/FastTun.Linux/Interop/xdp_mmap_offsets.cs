using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

/// <summary>linux/if_xdp.h struct xdp_mmap_offsets (getsockopt XDP_MMAP_OFFSETS).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct xdp_mmap_offsets
{
    public xdp_ring_offset rx;
    public xdp_ring_offset tx;
    /// <summary>Fill ring.</summary>
    public xdp_ring_offset fr;
    /// <summary>Completion ring.</summary>
    public xdp_ring_offset cr;
}
