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
public sealed unsafe class AfXdpPort : UmemPort
{
    private readonly AfXdpOptions _options;
    private readonly XdpProgram _program;
    private readonly int _ifindex;
    private int _fd = -1;
    private long _lastStatisticsTick;
    private bool _bound;

    /// <summary>Opens the port. With <paramref name="umem"/> null the port gets a UMEM of its own sized by
    /// <paramref name="options"/>; otherwise it binds to that UMEM (the first port registers it, later ones bind
    /// with XDP_SHARED_UMEM and have their own fill and completion rings), and frames move between the ports
    /// that share it without a copy. The UMEM's frame size, count and headroom then win over the options'.</summary>
    public AfXdpPort(string interfaceName, int queue, ushort id, AfXdpOptions? options = null, ILogger? logger = null,
        XdpUmem? umem = null)
        : base(interfaceName, queue, id, umem ?? OwnUmem(options), (options ?? new AfXdpOptions()).FillRingSize)
    {
        _options = options ?? new AfXdpOptions();
        bool ownsUmem = umem is null;
        try
        {
            Validate(_options, ownsUmem);
            if ((uint)queue >= (uint)_options.MaxQueues)
                throw new ArgumentOutOfRangeException(nameof(queue), queue, $"{interfaceName}: queue must be below MaxQueues ({_options.MaxQueues})");
            _ifindex = (int)Libc.if_nametoindex(interfaceName);
            if (_ifindex == 0) throw LinuxException.FromLastError($"AF_XDP on {interfaceName}: no such interface");
        }
        catch
        {
            if (ownsUmem) _u.Dispose();
            throw;
        }

        try
        {
            _program = XdpProgram.Acquire(interfaceName, _ifindex, _options);
        }
        catch
        {
            if (ownsUmem) _u.Dispose();
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
            if (_bound) _u.Detach(this, _fd, _options.FillRingSize);
            CloseSocket();
            if (ownsUmem) _u.Dispose();
            _program.Release();
            throw;
        }
        if (ownsUmem) _u.Dispose(); // the port's own reference (taken in Bound) now keeps it alive

        RefillFillRing();
        logger?.LogInformation(
            "AF_XDP {Interface} queue {Queue}: XDP program in {AttachMode} mode, socket in {CopyMode} mode, UMEM {Umem} on {UmemPages} pages, tx budget raised: {Budget}, busy poll: {BusyPoll}",
            interfaceName, queue, _program.Mode, CopyMode, SharedUmem ? $"shared by {_u.Ports.Count} ports" : "own", _u.HugePages ? "2 MiB" : "4 KiB", TxBudgetRaised, BusyPolling);
    }

    public override int PollFd => _fd;
    /// <summary>How the socket is bound: <see cref="XdpCopyMode.Copy"/> or <see cref="XdpCopyMode.ZeroCopy"/>.</summary>
    public XdpCopyMode CopyMode { get; private set; }
    /// <summary>Where the XDP program runs: <see cref="XdpAttachMode.Native"/> or <see cref="XdpAttachMode.Generic"/>.</summary>
    public XdpAttachMode AttachMode => _program.Mode;
    /// <summary>Whether XDP_MAX_TX_SKB_BUDGET (Linux 6.17+) let one copy-mode kick send a whole tx ring instead of 32 frames.</summary>
    public bool TxBudgetRaised { get; private set; }
    /// <summary>Whether the socket busy-polls (SO_PREFER_BUSY_POLL, SO_BUSY_POLL, SO_BUSY_POLL_BUDGET all accepted).</summary>
    public bool BusyPolling { get; private set; }
    /// <summary>True when this port bound with XDP_SHARED_UMEM to a UMEM another port registered.</summary>
    public bool SharedUmem { get; private set; }

    private static XdpUmem OwnUmem(AfXdpOptions? options)
    {
        var o = options ?? new AfXdpOptions();
        if (o.FrameCount < o.FillRingSize + 2 * PacketBatch_MaxCapacity)
            throw new ArgumentOutOfRangeException(nameof(o.FrameCount), o.FrameCount, "UMEM needs more frames than the fill ring plus two batches");
        return new XdpUmem(o.FrameSize, o.FrameCount, o.UmemHeadroom);
    }

    private static void Validate(AfXdpOptions o, bool ownUmem)
    {
        if (ownUmem && o.FrameSize is not (2048 or 4096))
            throw new ArgumentOutOfRangeException(nameof(o.FrameSize), o.FrameSize, "UMEM frame size must be 2048 or 4096");
        foreach (int ring in new[] { o.RxRingSize, o.TxRingSize, o.FillRingSize, o.CompletionRingSize })
            if (ring < 8 || !BitOperations.IsPow2(ring))
                throw new ArgumentOutOfRangeException(nameof(o), ring, "AF_XDP ring sizes must be powers of two ≥ 8");
        if (ownUmem && (o.UmemHeadroom < 0 || o.UmemHeadroom + Libc.XDP_PACKET_HEADROOM + 1514 > o.FrameSize))
            throw new ArgumentOutOfRangeException(nameof(o.UmemHeadroom), o.UmemHeadroom, "headroom leaves no room for a 1514-byte frame");
        if (ownUmem && o.FrameCount < o.FillRingSize + 2 * PacketBatch_MaxCapacity)
            throw new ArgumentOutOfRangeException(nameof(o.FrameCount), o.FrameCount, "UMEM needs more frames than the fill ring plus two batches");
        if (o.MaxQueues < 1) throw new ArgumentOutOfRangeException(nameof(o.MaxQueues));
        if (o.BusyPollBudget is < 1 or > 1024) throw new ArgumentOutOfRangeException(nameof(o.BusyPollBudget), o.BusyPollBudget, "busy-poll budget must be 1..1024");
        if (o.BusyPollMicroseconds is < 1 or > 1_000_000) throw new ArgumentOutOfRangeException(nameof(o.BusyPollMicroseconds));
    }

    private const int PacketBatch_MaxCapacity = Packets.Datapath.PacketBatch.MaxCapacity;

    /// <summary>Creates and binds the socket. The first port of a UMEM registers it and binds zero-copy first when
    /// allowed, copy mode as the fallback; a later port binds with XDP_SHARED_UMEM and inherits that mode (the
    /// kernel refuses mode flags on a shared bind).</summary>
    private void OpenBoundSocket()
    {
        if (_u.RegisteredFd >= 0)
        {
            int shared = TryOpenSocket(Libc.XDP_SHARED_UMEM, _u.RegisteredFd);
            if (shared != 0)
                throw new LinuxException($"bind AF_XDP socket to {InterfaceName} queue {Queue} with XDP_SHARED_UMEM", shared);
            CopyMode = _u.CopyMode;
            SharedUmem = true;
            _bound = true;
            _u.Bound(this, _fd, _options.FillRingSize, CopyMode);
            return;
        }
        int err = 0;
        if (_options.CopyMode != XdpCopyMode.Copy)
        {
            err = TryOpenSocket(Libc.XDP_ZEROCOPY | Libc.XDP_USE_NEED_WAKEUP, -1);
            if (err == 0) { CopyMode = XdpCopyMode.ZeroCopy; Registered(); return; }
            if (_options.CopyMode == XdpCopyMode.ZeroCopy)
                throw new LinuxException($"bind AF_XDP socket to {InterfaceName} queue {Queue} in zero-copy mode", err);
        }
        err = TryOpenSocket(Libc.XDP_COPY | Libc.XDP_USE_NEED_WAKEUP, -1);
        if (err != 0) throw new LinuxException($"bind AF_XDP socket to {InterfaceName} queue {Queue} in copy mode", err);
        CopyMode = XdpCopyMode.Copy;
        Registered();

        void Registered()
        {
            _bound = true;
            _u.Bound(this, _fd, _options.FillRingSize, CopyMode);
        }
    }

    /// <summary>Socket, UMEM registration (or sharing), rings, bind. Returns the bind errno (0 on success) so the
    /// caller can fall back; any earlier failure is a real setup error and throws.</summary>
    private int TryOpenSocket(ushort bindFlags, int sharedUmemFd)
    {
        _fd = Libc.socket(Libc.AF_XDP, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, 0);
        if (_fd < 0) throw LinuxException.FromLastError($"socket(AF_XDP) for {InterfaceName}");

        if (sharedUmemFd < 0)
        {
            var reg = new xdp_umem_reg
            {
                addr = (ulong)_umem,
                len = _umemLength,
                chunk_size = (uint)_frameSize,
                headroom = (uint)_u.UmemHeadroom,
            };
            SetOption(Libc.XDP_UMEM_REG, &reg, sizeof(xdp_umem_reg), "XDP_UMEM_REG");
        }
        // A socket sharing the UMEM on another device or queue needs fill and completion rings of its own.
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
            sxdp_flags = bindFlags,
            sxdp_ifindex = (uint)_ifindex,
            sxdp_queue_id = (uint)Queue,
            sxdp_shared_umem_fd = sharedUmemFd < 0 ? 0u : (uint)sharedUmemFd,
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
        int sndbuf = (int)Math.Min(int.MaxValue / 2, (long)_options.TxRingSize * _frameSize * 2);
        if (Libc.setsockopt(_fd, Libc.SOL_SOCKET, Libc.SO_SNDBUFFORCE, &sndbuf, sizeof(int)) != 0)
            Libc.setsockopt(_fd, Libc.SOL_SOCKET, Libc.SO_SNDBUF, &sndbuf, sizeof(int));
        if (_options.BusyPoll) EnableBusyPoll();
        return 0;
    }

    /// <summary>SO_PREFER_BUSY_POLL + SO_BUSY_POLL + SO_BUSY_POLL_BUDGET: the syscalls of the data path (and poll)
    /// run the device's NAPI loop in this thread instead of waiting for softirq. All three or none.</summary>
    private void EnableBusyPoll()
    {
        int one = 1, usecs = _options.BusyPollMicroseconds, budget = _options.BusyPollBudget;
        _alwaysWake = BusyPolling = Libc.setsockopt(_fd, Libc.SOL_SOCKET, Libc.SO_PREFER_BUSY_POLL, &one, sizeof(int)) == 0
            && Libc.setsockopt(_fd, Libc.SOL_SOCKET, Libc.SO_BUSY_POLL, &usecs, sizeof(int)) == 0
            && Libc.setsockopt(_fd, Libc.SOL_SOCKET, Libc.SO_BUSY_POLL_BUDGET, &budget, sizeof(int)) == 0;
        if (!BusyPolling)
            throw LinuxException.FromLastError($"enable busy polling on AF_XDP socket of {InterfaceName} queue {Queue}");
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


    protected override void Dispose(bool disposing)
    {
        if (!_bound) return;
        // Frames lent to this socket's rings go with it: a UMEM shared with ports that stay open counts them
        // as lost, so dispose the ports of a worker together (the worker does).
        FastTunXdp.fasttun_xdp_map_clear(_program.XskMapFd, Queue);
        int fd = _fd;
        _bound = false;
        _u.Detach(this, fd, _options.FillRingSize);
        CloseSocket();
        _program.Release();
    }

    ~AfXdpPort() => Dispose(false);

    /// <summary>sendto with no data: the kernel drains the tx ring (copy mode: synchronously, up to its budget).
    /// EAGAIN/EBUSY/ENOBUFS/ENETDOWN leave the frames in the ring for the next kick.</summary>
    protected override void KickTx()
    {
        Counters.Syscalls++;
        Libc.sendto(_fd, null, 0, Libc.MSG_DONTWAIT, null, 0);
    }

    /// <summary>recvfrom with no buffer: lets the driver pick up new fill-ring entries (and, busy polling, runs
    /// its NAPI loop here).</summary>
    protected override void WakeRx()
    {
        Counters.Syscalls++;
        Libc.recvfrom(_fd, null, 0, Libc.MSG_DONTWAIT, null, null);
    }

    /// <summary>Refreshes the kernel's drop counters about once a second.</summary>
    protected override void OnFlush()
    {
        long now = Environment.TickCount64;
        if (now - _lastStatisticsTick < 1000) return;
        _lastStatisticsTick = now;
        UpdateDropCounters();
    }
}
