using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

/// <summary>linux/if_xdp.h struct sockaddr_xdp (bind of an AF_XDP socket to one interface queue).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct sockaddr_xdp
{
    public ushort sxdp_family;
    public ushort sxdp_flags;
    public uint sxdp_ifindex;
    public uint sxdp_queue_id;
    public uint sxdp_shared_umem_fd;
}
