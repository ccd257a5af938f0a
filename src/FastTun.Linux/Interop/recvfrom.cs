using System.Runtime.CompilerServices;
using Tmds.Linux;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    /// <summary>recvfrom(2) through Tmds.LibC; also the AF_XDP fill-ring wakeup (null buffer, MSG_DONTWAIT).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe nint recvfrom(int fd, void* buf, nuint len, int flags, void* srcAddr, int* addrlen) =>
        (nint)(long)LibC.recvfrom(fd, buf, (size_t)(ulong)len, flags, (sockaddr*)srcAddr, (socklen_t*)addrlen);
}
