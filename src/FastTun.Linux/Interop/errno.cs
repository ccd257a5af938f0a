using System.Runtime.CompilerServices;
using Tmds.Linux;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    /// <summary>errno of the last libc call on this thread, as Tmds.LibC and LibraryImport(SetLastError = true)
    /// both capture it (the runtime keeps one slot per thread).</summary>
    public static int errno
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => LibC.errno;
    }
}
