using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    /// <summary>glibc applies it to every thread of the process (its setxid broadcast), as POSIX requires.</summary>
    [LibraryImport(Name, EntryPoint = "setresuid", SetLastError = true)]
    public static partial int setresuid(uint real, uint effective, uint saved);
}
