using System.Runtime.CompilerServices;
using Tmds.Linux;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    /// <summary>ioctl(2) through Tmds.LibC (glibc declares the request as unsigned long; every request FastTun
    /// uses fits in 32 bits and the upper half of the register is ignored).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe int ioctl(int fd, nuint request, void* arg) => LibC.ioctl(fd, (int)(uint)request, arg);
}
