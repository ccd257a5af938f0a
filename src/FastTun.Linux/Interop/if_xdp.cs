namespace FastTun.Linux.Interop;

/// <summary>Constants of linux/if_xdp.h (AF_XDP sockets) used by <see cref="AfXdp.AfXdpPort"/>.</summary>
internal static partial class Libc
{
    public const int SOL_XDP = 283;

    // setsockopt/getsockopt names at SOL_XDP.
    public const int XDP_MMAP_OFFSETS = 1;
    public const int XDP_RX_RING = 2;
    public const int XDP_TX_RING = 3;
    public const int XDP_UMEM_REG = 4;
    public const int XDP_UMEM_FILL_RING = 5;
    public const int XDP_UMEM_COMPLETION_RING = 6;
    public const int XDP_STATISTICS = 7;
    public const int XDP_OPTIONS = 8;
    /// <summary>Linux 6.17+: frames one sendto may push through the copy-mode (skb) tx path; default 32.</summary>
    public const int XDP_MAX_TX_SKB_BUDGET = 9;

    // sockaddr_xdp.sxdp_flags.
    public const ushort XDP_SHARED_UMEM = 1 << 0;
    public const ushort XDP_COPY = 1 << 1;
    public const ushort XDP_ZEROCOPY = 1 << 2;
    public const ushort XDP_USE_NEED_WAKEUP = 1 << 3;

    /// <summary>xdp_ring_offset.flags bit: the kernel wants a syscall to make progress on this ring.</summary>
    public const uint XDP_RING_NEED_WAKEUP = 1 << 0;

    /// <summary>xdp_options.flags bit: the socket is bound in zero-copy mode.</summary>
    public const uint XDP_OPTIONS_ZEROCOPY = 1 << 0;

    // mmap offsets of the four rings.
    public const long XDP_PGOFF_RX_RING = 0;
    public const long XDP_PGOFF_TX_RING = 0x80000000;
    public const long XDP_UMEM_PGOFF_FILL_RING = 0x100000000;
    public const long XDP_UMEM_PGOFF_COMPLETION_RING = 0x180000000;

    /// <summary>Bytes the kernel keeps in front of received data in every UMEM frame (XDP_PACKET_HEADROOM),
    /// on top of xdp_umem_reg.headroom.</summary>
    public const int XDP_PACKET_HEADROOM = 256;
}
