using System.Runtime.CompilerServices;
using Tmds.Linux;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    /// <summary>getsockopt(2) through Tmds.LibC (socklen_t is a 32-bit unsigned, so int* aliases it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe int getsockopt(int fd, int level, int optname, void* optval, int* optlen) =>
        LibC.getsockopt(fd, level, optname, optval, (socklen_t*)optlen);
}
