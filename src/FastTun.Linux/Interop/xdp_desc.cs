using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

/// <summary>linux/if_xdp.h struct xdp_desc: one rx or tx ring entry. <c>addr</c> is a UMEM offset.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct xdp_desc
{
    public ulong addr;
    public uint len;
    public uint options;
}
