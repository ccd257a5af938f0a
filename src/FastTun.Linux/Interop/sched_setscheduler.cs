using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

internal static partial class Libc
{
    public const int SCHED_OTHER = 0;
    public const int SCHED_FIFO = 1;
    public const int SCHED_RR = 2;
    /// <summary>OR-ed into the policy: children (threads created by this one) start at SCHED_OTHER, nice ≥ 0.</summary>
    public const int SCHED_RESET_ON_FORK = 0x40000000;

    /// <summary><paramref name="pid"/> 0 = the calling thread (Linux schedules threads, not processes).
    /// <paramref name="priority"/> points at a struct sched_param, whose only field is the int priority.</summary>
    [LibraryImport(Name, EntryPoint = "sched_setscheduler", SetLastError = true)]
    public static unsafe partial int sched_setscheduler(int pid, int policy, int* priority);
}
