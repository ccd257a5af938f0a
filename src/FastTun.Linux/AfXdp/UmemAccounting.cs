namespace FastTun.Linux.AfXdp;

/// <summary>
/// Where every UMEM frame of a port is, at one instant. The port tracks one state per frame (free, lent to
/// the kernel for rx, in the application, lent to the kernel for tx); the kernel-side states are split by
/// the shared ring indices into what sits in a ring and what the kernel holds between rings.
/// <see cref="Violations"/> counts state transitions that should not happen (a frame returned twice, a
/// completion for a frame never sent); a correct port keeps it at zero.
/// </summary>
public readonly record struct UmemAccounting(
    int Total,
    int Free,
    int FillRing,
    int KernelRx,
    int RxRing,
    int Application,
    int TxRing,
    int KernelTx,
    int CompletionRing,
    long Violations)
{
    /// <summary>Sum over all places; equals <see cref="Total"/> when no frame is lost.</summary>
    public int Sum => Free + FillRing + KernelRx + RxRing + Application + TxRing + KernelTx + CompletionRing;
}
