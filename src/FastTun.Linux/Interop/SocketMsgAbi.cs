using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

// Scatter/gather message structs for sendmmsg (include/linux/socket.h, uapi/linux/uio.h), x86-64/arm64 layout;
// checked against the C compiler in AbiPacketTests.

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct iovec
{
    public void* iov_base;
    public nuint iov_len;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct msghdr
{
    public void* msg_name;
    public uint msg_namelen;
    public iovec* msg_iov;
    public nuint msg_iovlen;
    public void* msg_control;
    public nuint msg_controllen;
    public int msg_flags;
}

[StructLayout(LayoutKind.Sequential)]
internal struct mmsghdr
{
    public msghdr msg_hdr;
    public uint msg_len;
}
