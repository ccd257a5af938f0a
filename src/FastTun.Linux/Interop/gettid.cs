using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    [LibraryImport(Name, EntryPoint = "gettid", SetLastError = true)]
    public static partial int gettid();
}
