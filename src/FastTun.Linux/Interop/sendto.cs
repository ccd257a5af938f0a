using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    [LibraryImport(Name, EntryPoint = "sendto", SetLastError = true)]
    public static unsafe partial nint sendto(int fd, void* buf, nuint len, int flags, void* destAddr, int addrlen);
}
