using FastTun.Packets.Datapath;

namespace FastTun.Linux.Ports;

/// <summary>
/// One (interface, queue) opened for raw frame I/O. Owned by exactly one worker thread: none of the data-path
/// methods are thread-safe, none allocate, none throw. Setup (the constructor of a subclass) throws
/// <see cref="Interop.LinuxException"/> with a message naming the interface.
///
/// Frame lifetime: <see cref="RxBurst"/> appends descriptors whose buffers belong to the port. They stay valid
/// until <see cref="RxDone"/>, which the worker calls once per batch after every TxBurst. A zero-copy TxBurst
/// may keep a buffer; it then sets <see cref="FrameFlags.TxOwned"/> on that frame in the batch it was given,
/// and RxDone leaves it alone. Frames the pipeline wants to keep longer (neighbour queue, reassembly) are
/// copied into a <see cref="FramePool"/> buffer first.
/// </summary>
public abstract class PacketPort : IDisposable
{
    protected PacketPort(string interfaceName, int queue, ushort id)
    {
        InterfaceName = interfaceName;
        Queue = queue;
        Id = id;
    }

    public string InterfaceName { get; }
    public int Queue { get; }
    /// <summary>Index of this port in the gateway's port table; written into <see cref="Frame.InPort"/>.</summary>
    public ushort Id { get; }
    public PortCounters Counters { get; } = new();

    /// <summary>File descriptor to poll(2) for POLLIN when the worker has nothing to do.</summary>
    public abstract int PollFd { get; }

    /// <summary>Headroom in front of every received frame; at least 64 bytes.</summary>
    public abstract int Headroom { get; }

    /// <summary>Appends up to (capacity − count) received frames to <paramref name="batch"/>, with
    /// InPort = <see cref="Id"/>. Returns how many were added; 0 when none are waiting. Never blocks.</summary>
    public abstract int RxBurst(PacketBatch batch);

    /// <summary>Transmits every frame of <paramref name="batch"/> whose <see cref="Frame.OutPort"/> is
    /// <see cref="Id"/> and whose <see cref="Frame.Drop"/> is None. Frames that cannot be sent are counted in
    /// <see cref="PortCounters.TxDropped"/> and marked with a drop reason. Returns the number queued.</summary>
    public abstract int TxBurst(PacketBatch batch);

    /// <summary>Returns the rx buffers of <paramref name="batch"/> that belong to this port (InPort = Id and not
    /// <see cref="FrameFlags.TxOwned"/>) to the kernel.</summary>
    public abstract void RxDone(PacketBatch batch);

    /// <summary>Pushes out anything a TxBurst left pending (kick, completion reaping). Called when idle.</summary>
    public virtual void Flush() { }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected abstract void Dispose(bool disposing);
}
