using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    [LibraryImport(Name, EntryPoint = "mmap", SetLastError = true)]
    public static unsafe partial void* mmap(void* addr, nuint length, int prot, int flags, int fd, long offset);
}
