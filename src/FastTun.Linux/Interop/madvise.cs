using Tmds.Linux;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    /// <summary>madvise(2) through Tmds.LibC: 0, or -1 with errno set.</summary>
    public static unsafe int madvise(void* addr, nuint length, int advice) => LibC.madvise(addr, (size_t)(ulong)length, advice);
}
