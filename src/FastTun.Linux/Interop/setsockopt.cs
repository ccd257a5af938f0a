using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    [LibraryImport(Name, EntryPoint = "setsockopt", SetLastError = true)]
    public static unsafe partial int setsockopt(int fd, int level, int optname, void* optval, int optlen);
}
