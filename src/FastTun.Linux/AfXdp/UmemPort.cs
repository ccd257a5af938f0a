using System.Runtime.CompilerServices;
using FastTun.Linux.Ports;

namespace FastTun.Linux.AfXdp;

/// <summary>
/// The user side of the AF_XDP ring protocol over an <see cref="XdpUmem"/>: fill, rx, tx and completion rings
/// driven with cached indices, need_wakeup, and the UMEM's per-frame state machine. <see cref="AfXdpPort"/>
/// gets its rings from the kernel; <see cref="MemoryRingPort"/> has the "NIC" side in the same process. A frame
/// of the UMEM received by one port is transmitted by any port on the same UMEM as a descriptor, with no copy.
/// The data path (UmemPort.DataPath.cs) never throws or allocates.
/// </summary>
public abstract unsafe partial class UmemPort : PacketPort
{
    private protected const byte StateFree = XdpUmem.StateFree;
    private protected const byte StateFill = XdpUmem.StateFill;
    private protected const byte StateApp = XdpUmem.StateApp;
    private protected const byte StateTx = XdpUmem.StateTx;

    private protected readonly XdpUmem _u;
    // Copies of the UMEM's fixed facts, read on every frame.
    private protected readonly byte* _umem;
    private protected readonly ulong _umemLength;
    private protected readonly int _frameShift;
    private protected readonly ulong _chunkMask;
    private protected readonly int _headroom;
    private protected readonly int _frameSize;
    private protected readonly uint[] _free;
    private protected readonly byte[] _state;
    private protected XskRing _fill, _completion, _rx, _tx;
    /// <summary>Wake the other side after every empty rx burst and every tx burst, whatever the need_wakeup flags
    /// say (busy polling: the syscall is what runs the driver).</summary>
    private protected bool _alwaysWake;

    /// <summary>Checks that <paramref name="umem"/> can take one more port with a fill ring of
    /// <paramref name="fillRingSize"/> entries. The subclass maps its rings, then calls <see cref="XdpUmem.Bound"/>.</summary>
    private protected UmemPort(string interfaceName, int queue, ushort id, XdpUmem umem, int fillRingSize)
        : base(interfaceName, queue, id)
    {
        umem.Attach(this, fillRingSize);
        _u = umem;
        _umem = umem.Base;
        _umemLength = umem.Length;
        _frameShift = umem.FrameShift;
        _chunkMask = umem.ChunkMask;
        _headroom = umem.Headroom;
        _frameSize = umem.FrameSize;
        _free = umem.Free;
        _state = umem.State;
    }

    /// <summary>xdp_umem_reg.headroom + XDP_PACKET_HEADROOM: where received data starts in a frame.</summary>
    public override int Headroom => _headroom;
    public int FrameSize => _frameSize;
    /// <summary>Frames of the UMEM this port uses (all ports sharing it included).</summary>
    public int FrameCount => _u.FrameCount;
    /// <summary>The UMEM this port's frames live in.</summary>
    public XdpUmem Umem => _u;

    /// <summary>Where every frame of this port's UMEM is right now (all ports sharing it included). Call from the
    /// worker thread (or when it is stopped).</summary>
    public UmemAccounting Accounting() => _u.Accounting();

    /// <summary>Entries in this port's four rings, from the shared indices.</summary>
    internal (int Fill, int Rx, int Tx, int Completion) RingOccupancy() =>
        ((int)_fill.Occupancy(), (int)_rx.Occupancy(), (int)_tx.Occupancy(), (int)_completion.Occupancy());

    [MethodImpl(MethodImplOptions.NoInlining)]
    private protected void CountViolation() => _u.Violations++;
}
