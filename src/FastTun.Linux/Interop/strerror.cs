using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    [LibraryImport(Name, EntryPoint = "strerror")]
    private static unsafe partial byte* strerror_native(int errnum);

    /// <summary>The C library's text for an errno value.</summary>
    public static unsafe string strerror(int errnum) =>
        Marshal.PtrToStringUTF8((nint)strerror_native(errnum)) ?? $"errno {errnum}";
}
