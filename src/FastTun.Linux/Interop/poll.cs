using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Tmds.Linux;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    /// <summary>struct pollfd with public fields (Tmds.Linux.pollfd has the same 8-byte layout behind properties);
    /// its size and offsets are checked against the C compiler in AbiPacketTests.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct pollfd
    {
        public int fd;
        public short events;
        public short revents;
    }

    /// <summary>poll(2) through Tmds.LibC.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe int poll(pollfd* fds, nuint nfds, int timeout) =>
        LibC.poll((Tmds.Linux.pollfd*)fds, (ulong_t)(ulong)nfds, timeout);
}
