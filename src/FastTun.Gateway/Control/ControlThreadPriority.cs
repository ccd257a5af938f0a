using FastTun.Linux.Interop;

namespace FastTun.Gateway.Control;

/// <summary>
/// Gives the control threads nice −10. They sleep in accept/read almost always, so this costs the workers
/// nothing while idle, but when the CPUs are saturated (workers, softirq, a load generator) a waking control
/// thread is scheduled ahead of them instead of waiting out their time slices: the 10 ms answer target
/// holds under load. Best effort: without the privilege the thread keeps the default priority.
/// </summary>
internal static class ControlThreadPriority
{
    public const int Nice = -10;

    public static void Raise() => Libc.setpriority(Libc.PRIO_PROCESS, (uint)Libc.gettid(), Nice);
}
