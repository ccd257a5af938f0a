using System.Runtime.CompilerServices;
using Tmds.Linux;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    /// <summary>setsockopt(2) through Tmds.LibC.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe int setsockopt(int fd, int level, int optname, void* optval, int optlen) =>
        LibC.setsockopt(fd, level, optname, optval, optlen);
}
