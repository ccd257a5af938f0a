using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    [LibraryImport(Name, EntryPoint = "sendmmsg", SetLastError = true)]
    public static unsafe partial int sendmmsg(int fd, mmsghdr* msgvec, uint vlen, int flags);
}
