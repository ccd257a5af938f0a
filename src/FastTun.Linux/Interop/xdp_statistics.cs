using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

/// <summary>linux/if_xdp.h struct xdp_statistics (getsockopt XDP_STATISTICS).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct xdp_statistics
{
    /// <summary>Dropped for reasons other than an invalid descriptor (no fill buffer in copy mode, …).</summary>
    public ulong rx_dropped;
    public ulong rx_invalid_descs;
    public ulong tx_invalid_descs;
    /// <summary>Dropped because the rx ring was full.</summary>
    public ulong rx_ring_full;
    public ulong rx_fill_ring_empty_descs;
    public ulong tx_ring_empty_descs;
}
