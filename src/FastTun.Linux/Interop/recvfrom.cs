using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    [LibraryImport(Name, EntryPoint = "recvfrom", SetLastError = true)]
    public static unsafe partial nint recvfrom(int fd, void* buf, nuint len, int flags, void* srcAddr, int* addrlen);
}
