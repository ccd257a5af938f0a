using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

/// <summary>linux/if_xdp.h struct xdp_umem_reg (setsockopt XDP_UMEM_REG). 32 bytes: since Linux 6.8 the tail
/// padding after <c>flags</c> is <c>tx_metadata_len</c>; older headers (Debian 12's 6.1) leave it as padding,
/// and the kernel requires it to be zero either way.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct xdp_umem_reg
{
    public ulong addr;
    public ulong len;
    public uint chunk_size;
    public uint headroom;
    public uint flags;
    public uint tx_metadata_len;
}
