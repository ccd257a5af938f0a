using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    public const int EFD_CLOEXEC = 0x80000;
    public const int EFD_NONBLOCK = 0x800;

    /// <summary>eventfd(2): a counter a thread can poll(2) on; a worker's wake-up from another worker.</summary>
    [LibraryImport(Name, EntryPoint = "eventfd", SetLastError = true)]
    public static partial int eventfd(uint initval, int flags);

    [LibraryImport(Name, EntryPoint = "read", SetLastError = true)]
    public static unsafe partial nint read(int fd, void* buf, nuint count);

    [LibraryImport(Name, EntryPoint = "write", SetLastError = true)]
    public static unsafe partial nint write(int fd, void* buf, nuint count);
}
