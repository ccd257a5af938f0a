using System.Numerics;
using System.Runtime.CompilerServices;
using FastTun.Linux.Interop;
using FastTun.Linux.Ports;
using Microsoft.Extensions.Logging;

namespace FastTun.Linux.AfXdp;

/// <summary>
/// One (interface, queue) served through an AF_XDP socket. The XDP program (loaded once per interface by
/// the native shim) redirects the queue's frames into this socket's rx ring; everything else is here:
/// the UMEM, the four rings driven with cached indices, need_wakeup, and a frame allocator that tracks the
/// state of every UMEM frame. Setup (this file) throws <see cref="LinuxException"/> naming the interface;
/// the data path (AfXdpPort.DataPath.cs) never throws or allocates.
/// </summary>
public sealed unsafe partial class AfXdpPort : PacketPort
{
    // Per-frame states of the allocator. A frame is always in exactly one.
    private const byte StateFree = 0;
    private const byte StateFill = 1; // lent to the kernel for rx: fill ring, kernel, or rx ring
    private const byte StateApp = 2;  // received and not yet returned (RxDone) or sent (TxBurst)
    private const byte StateTx = 3;   // lent to the kernel for tx: tx ring, kernel, or completion ring

    private readonly AfXdpOptions _options;
    private readonly XdpProgram _program;
    private readonly int _ifindex;
    private int _fd = -1;
    private byte* _umem;
    private readonly ulong _umemLength;
    private readonly int _frameShift;
    private readonly ulong _chunkMask;
    private readonly int _headroom;
    private XskRing _fill, _completion, _rx, _tx;
    private readonly uint[] _free;
    private int _freeCount;
    private readonly byte[] _state;
    private long _violations;
    private long _lastStatisticsTick;

    public AfXdpPort(string interfaceName, int queue, ushort id, AfXdpOptions? options = null, ILogger? logger = null)
        : base(interfaceName, queue, id)
    {
        _options = options ?? new AfXdpOptions();
        Validate(_options);
        _frameShift = BitOperations.Log2((uint)_options.FrameSize);
        _chunkMask = ~(ulong)(_options.FrameSize - 1);
        _headroom = _options.UmemHeadroom + Libc.XDP_PACKET_HEADROOM;
        _free = new uint[_options.FrameCount];
        _state = new byte[_options.FrameCount];
        _umemLength = (ulong)_options.FrameCount * (ulong)_options.FrameSize;

        if ((uint)queue >= (uint)_options.MaxQueues)
            throw new ArgumentOutOfRangeException(nameof(queue), queue, $"{interfaceName}: queue must be below MaxQueues ({_options.MaxQueues})");
        _ifindex = (int)Libc.if_nametoindex(interfaceName);
        if (_ifindex == 0) throw LinuxException.FromLastError($"AF_XDP on {interfaceName}: no such interface");

        void* umem = Libc.mmap(null, (nuint)_umemLength, Libc.PROT_READ | Libc.PROT_WRITE,
            Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_POPULATE, -1, 0);
        if ((nint)umem == Libc.MAP_FAILED) throw LinuxException.FromLastError($"mmap UMEM ({_umemLength} bytes) for {interfaceName}");
        _umem = (byte*)umem;

        try
        {
            _program = XdpProgram.Acquire(interfaceName, _ifindex, _options);
        }
        catch
        {
            Libc.munmap(_umem, (nuint)_umemLength);
            _umem = null;
            throw;
        }

        try
        {
            OpenBoundSocket();
            int rc = FastTunXdp.fasttun_xdp_map_set(_program.XskMapFd, queue, _fd);
            if (rc < 0) throw new LinuxException($"put AF_XDP socket of {interfaceName} queue {queue} into the XSKMAP", -rc);
        }
        catch
        {
            CloseSocket();
            Libc.munmap(_umem, (nuint)_umemLength);
            _umem = null;
            _program.Release();
            throw;
        }

        for (int i = 0; i < _options.FrameCount; i++) _free[i] = (uint)(_options.FrameCount - 1 - i);
        _freeCount = _options.FrameCount;
        RefillFillRing();
        logger?.LogInformation(
            "AF_XDP {Interface} queue {Queue}: XDP program in {AttachMode} mode, socket in {CopyMode} mode, tx budget raised: {Budget}",
            interfaceName, queue, _program.Mode, CopyMode, TxBudgetRaised);
    }

    public override int PollFd => _fd;
    /// <summary>xdp_umem_reg.headroom + XDP_PACKET_HEADROOM: where the kernel puts received data in a frame.</summary>
    public override int Headroom => _headroom;
    /// <summary>How the socket is bound: <see cref="XdpCopyMode.Copy"/> or <see cref="XdpCopyMode.ZeroCopy"/>.</summary>
    public XdpCopyMode CopyMode { get; private set; }
    /// <summary>Where the XDP program runs: <see cref="XdpAttachMode.Native"/> or <see cref="XdpAttachMode.Generic"/>.</summary>
    public XdpAttachMode AttachMode => _program.Mode;
    /// <summary>Whether XDP_MAX_TX_SKB_BUDGET (Linux 6.17+) let one copy-mode kick send a whole tx ring instead of 32 frames.</summary>
    public bool TxBudgetRaised { get; private set; }
    public int FrameSize => _options.FrameSize;
    public int FrameCount => _options.FrameCount;

    private static void Validate(AfXdpOptions o)
    {
        if (o.FrameSize is not (2048 or 4096))
            throw new ArgumentOutOfRangeException(nameof(o.FrameSize), o.FrameSize, "UMEM frame size must be 2048 or 4096");
        foreach (int ring in new[] { o.RxRingSize, o.TxRingSize, o.FillRingSize, o.CompletionRingSize })
            if (ring < 8 || !BitOperations.IsPow2(ring))
                throw new ArgumentOutOfRangeException(nameof(o), ring, "AF_XDP ring sizes must be powers of two ≥ 8");
        if (o.UmemHeadroom < 0 || o.UmemHeadroom + Libc.XDP_PACKET_HEADROOM + 1514 > o.FrameSize)
            throw new ArgumentOutOfRangeException(nameof(o.UmemHeadroom), o.UmemHeadroom, "headroom leaves no room for a 1514-byte frame");
        if (o.FrameCount < o.FillRingSize + 2 * PacketBatch_MaxCapacity)
            throw new ArgumentOutOfRangeException(nameof(o.FrameCount), o.FrameCount, "UMEM needs more frames than the fill ring plus two batches");
        if (o.MaxQueues < 1) throw new ArgumentOutOfRangeException(nameof(o.MaxQueues));
    }

    private const int PacketBatch_MaxCapacity = Packets.Datapath.PacketBatch.MaxCapacity;

    /// <summary>Creates and binds the socket: zero-copy first when allowed, copy mode as the fallback.</summary>
    private void OpenBoundSocket()
    {
        int err = 0;
        if (_options.CopyMode != XdpCopyMode.Copy)
        {
            err = TryOpenSocket(Libc.XDP_ZEROCOPY);
            if (err == 0) { CopyMode = XdpCopyMode.ZeroCopy; return; }
            if (_options.CopyMode == XdpCopyMode.ZeroCopy)
                throw new LinuxException($"bind AF_XDP socket to {InterfaceName} queue {Queue} in zero-copy mode", err);
        }
        err = TryOpenSocket(Libc.XDP_COPY);
        if (err != 0) throw new LinuxException($"bind AF_XDP socket to {InterfaceName} queue {Queue} in copy mode", err);
        CopyMode = XdpCopyMode.Copy;
    }

    /// <summary>Socket, UMEM registration, rings, bind. Returns the bind errno (0 on success) so the caller can
    /// fall back; any earlier failure is a real setup error and throws.</summary>
    private int TryOpenSocket(ushort modeFlag)
    {
        _fd = Libc.socket(Libc.AF_XDP, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, 0);
        if (_fd < 0) throw LinuxException.FromLastError($"socket(AF_XDP) for {InterfaceName}");

        var reg = new xdp_umem_reg
        {
            addr = (ulong)_umem,
            len = _umemLength,
            chunk_size = (uint)_options.FrameSize,
            headroom = (uint)_options.UmemHeadroom,
        };
        SetOption(Libc.XDP_UMEM_REG, &reg, sizeof(xdp_umem_reg), "XDP_UMEM_REG");
        int size = _options.FillRingSize;
        SetOption(Libc.XDP_UMEM_FILL_RING, &size, sizeof(int), "XDP_UMEM_FILL_RING");
        size = _options.CompletionRingSize;
        SetOption(Libc.XDP_UMEM_COMPLETION_RING, &size, sizeof(int), "XDP_UMEM_COMPLETION_RING");
        size = _options.RxRingSize;
        SetOption(Libc.XDP_RX_RING, &size, sizeof(int), "XDP_RX_RING");
        size = _options.TxRingSize;
        SetOption(Libc.XDP_TX_RING, &size, sizeof(int), "XDP_TX_RING");

        xdp_mmap_offsets off;
        int len = sizeof(xdp_mmap_offsets);
        if (Libc.getsockopt(_fd, Libc.SOL_XDP, Libc.XDP_MMAP_OFFSETS, &off, &len) != 0)
            throw LinuxException.FromLastError($"getsockopt(XDP_MMAP_OFFSETS) on {InterfaceName}");
        _fill = MapRing(off.fr, _options.FillRingSize, sizeof(ulong), Libc.XDP_UMEM_PGOFF_FILL_RING, "fill");
        _completion = MapRing(off.cr, _options.CompletionRingSize, sizeof(ulong), Libc.XDP_UMEM_PGOFF_COMPLETION_RING, "completion");
        _rx = MapRing(off.rx, _options.RxRingSize, sizeof(xdp_desc), Libc.XDP_PGOFF_RX_RING, "rx");
        _tx = MapRing(off.tx, _options.TxRingSize, sizeof(xdp_desc), Libc.XDP_PGOFF_TX_RING, "tx");

        var addr = new sockaddr_xdp
        {
            sxdp_family = Libc.AF_XDP,
            sxdp_flags = (ushort)(modeFlag | Libc.XDP_USE_NEED_WAKEUP),
            sxdp_ifindex = (uint)_ifindex,
            sxdp_queue_id = (uint)Queue,
        };
        if (Libc.bind(_fd, &addr, sizeof(sockaddr_xdp)) != 0)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            CloseSocket();
            return errno;
        }

        // Copy mode pushes at most 32 frames through the skb path per sendto unless the budget is raised.
        int budget = _options.TxRingSize;
        TxBudgetRaised = Libc.setsockopt(_fd, Libc.SOL_XDP, Libc.XDP_MAX_TX_SKB_BUDGET, &budget, sizeof(int)) == 0;
        // Copy mode also charges every skb in flight to the socket's send buffer. The default (~208 KB) covers
        // under a hundred 1514-byte frames, so a slow receiver stalls sendto (EAGAIN) long before the tx ring
        // is used, and the ring then overflows. Size it for a full tx ring; memory is only used while in flight.
        int sndbuf = (int)Math.Min(int.MaxValue / 2, (long)_options.TxRingSize * _options.FrameSize * 2);
        if (Libc.setsockopt(_fd, Libc.SOL_SOCKET, Libc.SO_SNDBUFFORCE, &sndbuf, sizeof(int)) != 0)
            Libc.setsockopt(_fd, Libc.SOL_SOCKET, Libc.SO_SNDBUF, &sndbuf, sizeof(int));
        return 0;
    }

    private void SetOption(int name, void* value, int length, string what)
    {
        if (Libc.setsockopt(_fd, Libc.SOL_XDP, name, value, length) != 0)
            throw LinuxException.FromLastError($"setsockopt({what}) on AF_XDP socket for {InterfaceName} queue {Queue}");
    }

    private XskRing MapRing(in xdp_ring_offset off, int entries, int entrySize, long pgoff, string name)
    {
        nuint length = (nuint)(off.desc + (ulong)entries * (ulong)entrySize);
        void* map = Libc.mmap(null, length, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED | Libc.MAP_POPULATE, _fd, pgoff);
        if ((nint)map == Libc.MAP_FAILED) throw LinuxException.FromLastError($"mmap AF_XDP {name} ring of {InterfaceName} queue {Queue}");
        var ring = new XskRing
        {
            Map = map,
            MapLength = length,
            Producer = (uint*)((byte*)map + off.producer),
            Consumer = (uint*)((byte*)map + off.consumer),
            Flags = (uint*)((byte*)map + off.flags),
            Entries = (byte*)map + off.desc,
            Size = (uint)entries,
            Mask = (uint)entries - 1,
        };
        // Volatile: initial snapshot before any traffic; the kernel starts both indices at 0.
        ring.CachedProducer = Volatile.Read(ref *ring.Producer);
        ring.CachedConsumer = Volatile.Read(ref *ring.Consumer);
        return ring;
    }

    private void CloseSocket()
    {
        UnmapRing(ref _fill);
        UnmapRing(ref _completion);
        UnmapRing(ref _rx);
        UnmapRing(ref _tx);
        if (_fd >= 0) Libc.close(_fd);
        _fd = -1;
    }

    private static void UnmapRing(ref XskRing ring)
    {
        if (ring.Map != null) Libc.munmap(ring.Map, ring.MapLength);
        ring = default;
    }

    /// <summary>Kernel-side drop counters of the socket (one getsockopt; call from the worker or at setup).</summary>
    public xdp_statistics ReadStatistics()
    {
        xdp_statistics stats;
        int len = sizeof(xdp_statistics);
        if (Libc.getsockopt(_fd, Libc.SOL_XDP, Libc.XDP_STATISTICS, &stats, &len) != 0)
            return default;
        return stats;
    }

    /// <summary>Copies the kernel's rx drop counters into <see cref="PortCounters.RxDropped"/>. Worker thread only.</summary>
    public void UpdateDropCounters()
    {
        xdp_statistics s = ReadStatistics();
        Counters.RxDropped = (long)(s.rx_dropped + s.rx_ring_full + s.rx_invalid_descs);
        Counters.Syscalls++;
    }

    /// <summary>Where every UMEM frame is right now. Call from the worker thread (or when it is stopped).</summary>
    public UmemAccounting Accounting()
    {
        int free = 0, fill = 0, app = 0, tx = 0;
        foreach (byte s in _state)
        {
            switch (s)
            {
                case StateFree: free++; break;
                case StateFill: fill++; break;
                case StateApp: app++; break;
                default: tx++; break;
            }
        }
        long violations = _violations + (free != _freeCount ? 1 : 0);
        int fillRing = (int)_fill.Occupancy();
        int rxRing = (int)_rx.Occupancy();
        int txRing = (int)_tx.Occupancy();
        int compRing = (int)_completion.Occupancy();
        return new UmemAccounting(_options.FrameCount, free, fillRing, fill - fillRing - rxRing, rxRing, app,
            txRing, tx - txRing - compRing, compRing, violations);
    }

    protected override void Dispose(bool disposing)
    {
        if (_umem == null) return;
        FastTunXdp.fasttun_xdp_map_clear(_program.XskMapFd, Queue);
        CloseSocket();
        Libc.munmap(_umem, (nuint)_umemLength);
        _umem = null;
        _program.Release();
    }

    ~AfXdpPort() => Dispose(false);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CountViolation() => _violations++;
}
