using System.Runtime.CompilerServices;
using Tmds.Linux;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    /// <summary>bind(2) through Tmds.LibC; the address is any sockaddr_* (sockaddr_ll, sockaddr_xdp, sockaddr_nl).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe int bind(int fd, void* addr, int addrlen) => LibC.bind(fd, (sockaddr*)addr, addrlen);
}
