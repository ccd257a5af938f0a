using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    public const int SIG_DFL = 0;
    public const int SIG_IGN = 1;
    public const int SIGHUP = 1;
    public const int SIGINT = 2;
    public const int SIGQUIT = 3;
    public const int SIGTERM = 15;

    /// <summary>signal(2): sets a disposition (here only SIG_DFL) and returns the one before. Tmds.LibC 0.5.0 has no
    /// signal or sigaction.</summary>
    [LibraryImport(Name, EntryPoint = "signal", SetLastError = true)]
    public static partial nint signal(int signum, nint handler);
}
