using System.Runtime.CompilerServices;
using Tmds.Linux;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    /// <summary>sendto(2) through Tmds.LibC; also the AF_XDP / TPACKET tx kick (null buffer, MSG_DONTWAIT).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe nint sendto(int fd, void* buf, nuint len, int flags, void* destAddr, int addrlen) =>
        (nint)(long)LibC.sendto(fd, buf, (size_t)(ulong)len, flags, (sockaddr*)destAddr, addrlen);
}
