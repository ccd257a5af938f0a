using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    /// <summary>glibc applies it to every thread of the process (its setxid broadcast).</summary>
    [LibraryImport(Name, EntryPoint = "setgroups", SetLastError = true)]
    public static unsafe partial int setgroups(nuint size, uint* list);
}
