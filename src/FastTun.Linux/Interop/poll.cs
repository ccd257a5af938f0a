using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    [StructLayout(LayoutKind.Sequential)]
    public struct pollfd
    {
        public int fd;
        public short events;
        public short revents;
    }

    [LibraryImport(Name, EntryPoint = "poll", SetLastError = true)]
    public static unsafe partial int poll(pollfd* fds, nuint nfds, int timeout);
}
