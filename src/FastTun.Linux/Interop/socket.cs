using System.Runtime.CompilerServices;
using Tmds.Linux;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    /// <summary>socket(2) through Tmds.LibC.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int socket(int domain, int type, int protocol) => LibC.socket(domain, type, protocol);
}
