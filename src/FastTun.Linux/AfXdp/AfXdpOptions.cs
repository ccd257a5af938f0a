namespace FastTun.Linux.AfXdp;

/// <summary>Where the XDP program runs.</summary>
public enum XdpAttachMode
{
    /// <summary>Driver (native) mode if the driver has it, else generic (skb) mode.</summary>
    Auto = 0,
    Native = 1,
    Generic = 2,
}

/// <summary>How the socket moves frames between the NIC and the UMEM.</summary>
public enum XdpCopyMode
{
    /// <summary>Zero-copy if the driver supports it, else copy.</summary>
    Auto = 0,
    Copy = 1,
    ZeroCopy = 2,
}

/// <summary>Setup knobs of an <see cref="AfXdpPort"/>. Sizes are powers of two.</summary>
public sealed record AfXdpOptions
{
    /// <summary>UMEM chunk size: 2048 or 4096. 2048 leaves 2048 − <see cref="UmemHeadroom"/> − 256 = 1664 bytes
    /// of frame data with the default headroom.</summary>
    public int FrameSize { get; init; } = 2048;
    /// <summary>UMEM frames; must cover fill + rx + tx + completion rings plus a batch in the application.</summary>
    public int FrameCount { get; init; } = 4096;
    /// <summary>xdp_umem_reg.headroom: bytes the kernel leaves free in front of XDP_PACKET_HEADROOM (256).</summary>
    public int UmemHeadroom { get; init; } = 128;
    public int RxRingSize { get; init; } = 1024;
    public int TxRingSize { get; init; } = 1024;
    public int FillRingSize { get; init; } = 2048;
    public int CompletionRingSize { get; init; } = 1024;
    public XdpAttachMode AttachMode { get; init; } = XdpAttachMode.Auto;
    public XdpCopyMode CopyMode { get; init; } = XdpCopyMode.Auto;
    /// <summary>Replace an XDP program that is not FastTun's. A stale FastTun program is always replaced.</summary>
    public bool ForceReplaceForeignProgram { get; init; }
    /// <summary>XSKMAP size; at least the interface's highest queue + 1.</summary>
    public int MaxQueues { get; init; } = 64;
    /// <summary>Busy polling (SO_PREFER_BUSY_POLL, SO_BUSY_POLL, SO_BUSY_POLL_BUDGET): the worker's rx/tx syscalls
    /// and poll(2) run the device's NAPI loop themselves. Off = need_wakeup with poll(2) and softirq NAPI.</summary>
    public bool BusyPoll { get; init; }
    /// <summary>SO_BUSY_POLL_BUDGET: frames one busy-poll round may process.</summary>
    public int BusyPollBudget { get; init; } = 64;
    /// <summary>SO_BUSY_POLL: microseconds a blocking call (poll) busy-polls before sleeping.</summary>
    public int BusyPollMicroseconds { get; init; } = 20;
    /// <summary>Path of xdp_redirect.bpf.o; null = look next to the application, then in native/build.</summary>
    public string? BpfObjectPath { get; init; }
}
