using System.Numerics;
using FastTun.Linux.Interop;

namespace FastTun.Linux.AfXdp;

/// <summary>
/// One UMEM: a region of equal frames that the kernel and every AF_XDP socket bound to it read and write, plus
/// the allocator that tracks the state of each frame (free, lent for rx, in the application, lent for tx).
/// All ports of one worker share one UMEM (XDP_SHARED_UMEM), so a frame received on one port is transmitted by
/// another as a descriptor: no payload copy. Each port still has its own fill and completion rings (required
/// when the sockets are on different devices or queues); they all draw from and return to this free list.
///
/// Owned by one worker thread, like its ports: nothing here is thread-safe. Reference counted: the creator and
/// every port that uses it hold a reference; the memory is unmapped when the last one is released.
/// </summary>
public sealed unsafe class XdpUmem : IDisposable
{
    // Per-frame states of the allocator. A frame is always in exactly one.
    internal const byte StateFree = 0;
    internal const byte StateFill = 1; // lent to the kernel for rx: some port's fill ring, the kernel, or an rx ring
    internal const byte StateApp = 2;  // received and not yet returned (RxDone) or sent (TxBurst)
    internal const byte StateTx = 3;   // lent to the kernel for tx: some port's tx ring, the kernel, or a completion ring

    internal readonly byte* Base;
    internal readonly ulong Length;
    internal readonly int FrameShift;
    internal readonly ulong ChunkMask;
    /// <summary>Indices of free frames; <see cref="FreeCount"/> of them are valid (a stack).</summary>
    internal readonly uint[] Free;
    internal int FreeCount;
    internal readonly byte[] State;
    internal long Violations;
    private readonly UmemMemory _memory;
    private readonly List<UmemPort> _ports = new();
    private int _references = 1;
    private int _reservedFill;
    private bool _released;
    private bool _registrarClosed;

    /// <param name="frameSize">2048 or 4096.</param>
    /// <param name="frameCount">Frames of the whole UMEM; must cover every port's fill ring plus batches in flight.</param>
    /// <param name="umemHeadroom">xdp_umem_reg.headroom, in front of XDP_PACKET_HEADROOM.</param>
    public XdpUmem(int frameSize = 2048, int frameCount = 4096, int umemHeadroom = 128)
    {
        if (frameSize is not (2048 or 4096))
            throw new ArgumentOutOfRangeException(nameof(frameSize), frameSize, "UMEM frame size must be 2048 or 4096");
        if (frameCount < 64 || frameCount > 1 << 22)
            throw new ArgumentOutOfRangeException(nameof(frameCount), frameCount, "UMEM frame count must be 64..4M");
        if (umemHeadroom < 0 || umemHeadroom + Libc.XDP_PACKET_HEADROOM + 1514 > frameSize)
            throw new ArgumentOutOfRangeException(nameof(umemHeadroom), umemHeadroom, "headroom leaves no room for a 1514-byte frame");
        FrameSize = frameSize;
        FrameCount = frameCount;
        UmemHeadroom = umemHeadroom;
        Headroom = umemHeadroom + Libc.XDP_PACKET_HEADROOM;
        FrameShift = BitOperations.Log2((uint)frameSize);
        ChunkMask = ~(ulong)(frameSize - 1);
        Length = (ulong)frameCount * (ulong)frameSize;
        Free = new uint[frameCount];
        State = new byte[frameCount];
        // lat6: 2 MiB aligned, on transparent huge pages when the kernel gives them (a cold pass's TLB misses).
        _memory = new UmemMemory(Length);
        Base = _memory.Base;
        for (int i = 0; i < frameCount; i++) Free[i] = (uint)(frameCount - 1 - i);
        FreeCount = frameCount;
    }

    /// <summary>True when every frame is on 2 MiB pages (transparent huge pages given and collapsed at creation);
    /// false: 4 KiB pages (THP off, advice refused, or no free huge page).</summary>
    public bool HugePages => _memory.HugePages;

    /// <summary>Bytes of the UMEM the kernel maps with 2 MiB pages now (/proc/self/smaps; setup and tests only).</summary>
    public ulong HugePageBytes() => _memory.HugePageBytes();

    public int FrameSize { get; }
    public int FrameCount { get; }
    public int UmemHeadroom { get; }
    /// <summary>xdp_umem_reg.headroom + XDP_PACKET_HEADROOM: where the kernel puts received data in a frame.</summary>
    public int Headroom { get; }
    /// <summary>The ports bound to this UMEM, in the order they were opened.</summary>
    public IReadOnlyList<UmemPort> Ports => _ports;
    /// <summary>The socket that registered the UMEM (XDP_UMEM_REG); later sockets bind with XDP_SHARED_UMEM to it.
    /// -1 before the first port is bound.</summary>
    internal int RegisteredFd { get; private set; } = -1;
    /// <summary>The bind mode of the registering socket, which every sharing socket inherits.</summary>
    internal XdpCopyMode CopyMode { get; private set; }

    /// <summary>True when <paramref name="handle"/> (a chunk address) and <paramref name="buffer"/> name the same
    /// frame of this UMEM.</summary>
    internal bool Owns(ulong handle, nint buffer) => handle < Length && buffer == (nint)(Base + handle);

    internal void Attach(UmemPort port, int fillRingSize)
    {
        if (_released) throw new ObjectDisposedException(nameof(XdpUmem));
        if (_registrarClosed)
            throw new InvalidOperationException($"{port.InterfaceName}: the port that registered this UMEM is closed; open a new UMEM");
        if (FrameCount < _reservedFill + fillRingSize + 2 * Packets.Datapath.PacketBatch.MaxCapacity)
            throw new ArgumentOutOfRangeException(nameof(fillRingSize), fillRingSize,
                $"{port.InterfaceName}: UMEM of {FrameCount} frames cannot cover the fill rings of {_ports.Count + 1} port(s) ({_reservedFill + fillRingSize}) plus two batches");
    }

    /// <summary>Called once the port's socket is bound (<paramref name="fd"/> −1 for a port with no socket).</summary>
    internal void Bound(UmemPort port, int fd, int fillRingSize, XdpCopyMode mode)
    {
        if (RegisteredFd < 0 && fd >= 0)
        {
            RegisteredFd = fd;
            CopyMode = mode;
        }
        _reservedFill += fillRingSize;
        _ports.Add(port);
        _references++;
    }

    /// <summary>A port is closing; its socket <paramref name="fd"/> is about to be closed.</summary>
    internal void Detach(UmemPort port, int fd, int fillRingSize)
    {
        if (_ports.Remove(port)) _reservedFill -= fillRingSize;
        if (fd >= 0 && fd == RegisteredFd)
        {
            RegisteredFd = -1;
            _registrarClosed = true;
        }
        Release();
    }

    /// <summary>Where every frame of this UMEM is right now, summed over the rings of all its ports. Call from the
    /// owning worker thread (or when it is stopped).</summary>
    public UmemAccounting Accounting()
    {
        int free = 0, fill = 0, app = 0, tx = 0;
        foreach (byte s in State)
        {
            switch (s)
            {
                case StateFree: free++; break;
                case StateFill: fill++; break;
                case StateApp: app++; break;
                default: tx++; break;
            }
        }
        long violations = Violations + (free != FreeCount ? 1 : 0);
        int fillRing = 0, rxRing = 0, txRing = 0, compRing = 0;
        foreach (var p in _ports)
        {
            var r = p.RingOccupancy();
            fillRing += r.Fill;
            rxRing += r.Rx;
            txRing += r.Tx;
            compRing += r.Completion;
        }
        return new UmemAccounting(FrameCount, free, fillRing, fill - fillRing - rxRing, rxRing, app,
            txRing, tx - txRing - compRing, compRing, violations);
    }

    /// <summary>Drops the creator's reference.</summary>
    public void Dispose() => Release();

    private void Release()
    {
        if (--_references > 0 || _released) return;
        _released = true;
        _memory.Release();
    }
}
