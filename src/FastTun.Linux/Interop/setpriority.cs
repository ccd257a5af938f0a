using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    public const int PRIO_PROCESS = 0;

    /// <summary>With <see cref="PRIO_PROCESS"/> and a thread id from <see cref="gettid"/>, sets that thread's nice
    /// value only (Linux threads are scheduled entities of their own).</summary>
    [LibraryImport(Name, EntryPoint = "setpriority", SetLastError = true)]
    public static partial int setpriority(int which, uint who, int prio);
}
