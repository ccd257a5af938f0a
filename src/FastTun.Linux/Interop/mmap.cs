using System.Runtime.CompilerServices;
using Tmds.Linux;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    /// <summary>mmap(2) through Tmds.LibC (64-bit off_t on every architecture).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void* mmap(void* addr, nuint length, int prot, int flags, int fd, long offset) =>
        LibC.mmap(addr, (size_t)(ulong)length, prot, flags, fd, offset);
}
