using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

/// <summary>linux/if_xdp.h struct xdp_options (getsockopt XDP_OPTIONS).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct xdp_options
{
    public uint flags;
}
