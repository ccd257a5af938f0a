using System.Runtime.CompilerServices;
using Tmds.Linux;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    /// <summary>munmap(2) through Tmds.LibC.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe int munmap(void* addr, nuint length) => LibC.munmap(addr, (size_t)(ulong)length);
}
