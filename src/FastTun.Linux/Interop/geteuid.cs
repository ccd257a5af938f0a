using System.Runtime.CompilerServices;
using Tmds.Linux;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    /// <summary>geteuid(2) through Tmds.LibC.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint geteuid() => LibC.geteuid();
}
