namespace FastTun.Linux.Ports;

/// <summary>
/// Counters of one port, written only by the worker that owns the port (plain increments, no atomics) and
/// read by the control plane, which may see a value a batch old. 64-bit reads are atomic on x86-64.
/// </summary>
public sealed class PortCounters
{
    public long RxPackets;
    public long RxBytes;
    public long TxPackets;
    public long TxBytes;
    /// <summary>Frames the kernel dropped because our rx ring was full (tp_drops, XDP rx_dropped/rx_ring_full).</summary>
    public long RxDropped;
    /// <summary>Frames we could not transmit (tx ring full, oversized, send error).</summary>
    public long TxDropped;
    /// <summary>Syscalls made by the data path (wakeups, flushes), to show syscalls per batch.</summary>
    public long Syscalls;
    /// <summary>Frames a tx burst had to copy into the port's own buffers because they lived elsewhere (another
    /// UMEM, a pool). Frames of a shared UMEM move as descriptors and are not counted.</summary>
    public long TxCopied;
    /// <summary>Non-empty rx bursts.</summary>
    public long RxBatches;
}
