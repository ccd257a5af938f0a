using System.Buffers.Binary;
using System.Runtime.InteropServices;
using FastTun.Linux.Interop;
using FastTun.Linux.Netlink;
using FastTun.Linux.Ports;
using FastTun.Packets.Datapath;

namespace FastTun.Linux.AfPacket;

/// <summary>
/// An AF_PACKET socket on one interface with a TPACKET_V3 rx ring and a TPACKET_V3 tx ring in one mmap.
/// Rx reads the ring without syscalls and hands out frames in place (PACKET_RESERVE leaves headroom in front of
/// each); a block goes back to the kernel once every frame taken from it is done (<see cref="RxDone"/>). GSO
/// super-frames are segmented into a private <see cref="FramePool"/>. Tx copies frames into ring slots and kicks
/// the kernel once per burst (or uses one sendmmsg, see <see cref="AfPacketTxMode"/>).
/// </summary>
public sealed unsafe partial class AfPacketPort : PacketPort
{
    // Handle tags: which of our buffers a frame lives in. Frames with neither tag are somebody else's.
    private const ulong RingTag = 1UL << 62;
    private const ulong PoolTag = 1UL << 63;
    private const ulong TagMask = RingTag | PoolTag;
    private const int VnetHeaderLength = 10;
    // TPACKET_ALIGN(sizeof(tpacket3_hdr)): where tx frame data starts in a slot when PACKET_TX_HAS_OFF is off.
    private const int TxDataOffset = 48;

    private readonly int _fd;
    private readonly byte* _map;
    private readonly nuint _mapLength;
    private readonly AfPacketOptions _options;
    private readonly int _vnetLength;
    private readonly FramePool _pool;
    private readonly KernelIngressDrop? _ingressDrop;
    private readonly IngressShed? _shed;
    private long _shedCounted;

    // Rx ring.
    private readonly byte* _rxBase;
    private readonly int _rxBlockSize;
    private readonly int _rxBlockCount;
    /// <summary>Frames handed out (or still being segmented) per block; the block returns to the kernel at 0.</summary>
    private readonly int[] _outstanding;
    private int _rxBlock;
    private byte* _rxFrame;
    private int _rxFramesLeft;
    private int _statsCountdown;

    // GSO super-frame being cut into segments, possibly across bursts.
    private bool _gsoActive;
    private byte* _gsoData;
    private int _gsoLength;
    private int _gsoBlock;
    private int _gsoNext;
    private GsoPlan _gsoPlan;

    // Tx ring.
    private readonly byte* _txBase;
    private readonly int _txFrameSize;
    private readonly int _txFrameCount;
    private readonly int _txMaxFrame;
    private int _txHead;
    private bool _txKickPending;

    // sendmmsg mode: one message of two iovecs (zero vnet header, frame) per batch slot.
    private readonly mmsghdr* _msgs;
    private readonly iovec* _iovs;
    private readonly byte* _zeroVnet;

    /// <summary>Opens the port. Throws <see cref="NetInterfaceException"/> or <see cref="LinuxException"/> naming the
    /// interface when it is missing, down, or the socket options are refused.</summary>
    public AfPacketPort(string interfaceName, ushort id, AfPacketOptions? options = null, int queue = 0)
        : base(interfaceName, queue, id)
    {
        // No finalizer until the native resources exist: a constructor that throws early must not have a
        // finalizer close fd 0 or touch a pool that was never created.
        GC.SuppressFinalize(this);
        _options = options ?? new AfPacketOptions();
        if (_options.Reserve < 64) throw new ArgumentOutOfRangeException(nameof(options), "Reserve must be at least 64 bytes");
        var nic = NetInterface.Get(interfaceName);
        nic.RequireUp();
        Interface = nic;
        _vnetLength = _options.VnetHeader ? VnetHeaderLength : 0;

        // Tx slots: header + vnet header + the largest frame (MTU + Ethernet + one VLAN tag), rounded to a power of two.
        _txMaxFrame = nic.Mtu + 18;
        _txFrameSize = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)(TxDataOffset + _vnetLength + _txMaxFrame));
        _txFrameSize = Math.Max(_txFrameSize, 2048);
        int txBlockSize = Math.Max(_txFrameSize, 64 * 1024);
        int txFramesPerBlock = txBlockSize / _txFrameSize;
        // sendmsg on a socket with a tx ring sends the ring, not the message: sendmmsg mode must not map one.
        int txBlockCount = _options.TxMode == AfPacketTxMode.Ring
            ? Math.Max(1, (_options.TxFrameCount + txFramesPerBlock - 1) / txFramesPerBlock)
            : 0;
        _txFrameCount = txBlockCount * txFramesPerBlock;

        _rxBlockSize = _options.RxBlockSize;
        _rxBlockCount = _options.RxBlockCount;
        _outstanding = new int[_rxBlockCount];
        int segmentFrame = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)(FramePool.DefaultHeadroom + nic.Mtu + 18 + 64));
        _pool = new FramePool(_options.SegmentPoolFrames, Math.Max(2048, segmentFrame));

        _fd = Libc.socket(Libc.AF_PACKET, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, 0); // protocol 0: nothing arrives before bind
        if (_fd < 0) throw LinuxException.FromLastError($"socket(AF_PACKET) for {interfaceName}");
        try
        {
            // Version, vnet header, reserve and loss must precede the rings (EBUSY afterwards).
            SetOption(Libc.PACKET_VERSION, Libc.TPACKET_V3, "PACKET_VERSION=TPACKET_V3");
            if (_options.VnetHeader) SetOption(Libc.PACKET_VNET_HDR, 1, "PACKET_VNET_HDR");
            SetOption(Libc.PACKET_RESERVE, _options.Reserve, "PACKET_RESERVE");
            // A malformed tx slot is marked TP_STATUS_WRONG_FORMAT and skipped instead of stalling the ring.
            SetOption(Libc.PACKET_LOSS, 1, "PACKET_LOSS");
            if (_options.QdiscBypass) SetOption(Libc.PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS");
            SetOption(Libc.PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING");

            var rxReq = new tpacket_req3
            {
                tp_block_size = (uint)_rxBlockSize,
                tp_block_nr = (uint)_rxBlockCount,
                tp_frame_size = 2048, // only checked for alignment and frame_nr consistency in V3
                tp_frame_nr = (uint)((long)_rxBlockSize * _rxBlockCount / 2048),
                tp_retire_blk_tov = (uint)_options.BlockTimeoutMs,
            };
            if (Libc.setsockopt(_fd, Libc.SOL_PACKET, Libc.PACKET_RX_RING, &rxReq, sizeof(tpacket_req3)) < 0)
                throw LinuxException.FromLastError($"setsockopt(PACKET_RX_RING {_rxBlockCount}x{_rxBlockSize}) on {interfaceName}");
            var txReq = new tpacket_req3
            {
                tp_block_size = (uint)txBlockSize,
                tp_block_nr = (uint)txBlockCount,
                tp_frame_size = (uint)_txFrameSize,
                tp_frame_nr = (uint)_txFrameCount,
            };
            if (txBlockCount > 0 && Libc.setsockopt(_fd, Libc.SOL_PACKET, Libc.PACKET_TX_RING, &txReq, sizeof(tpacket_req3)) < 0)
                throw LinuxException.FromLastError($"setsockopt(PACKET_TX_RING {_txFrameCount}x{_txFrameSize}) on {interfaceName}");

            nuint rxBytes = (nuint)_rxBlockSize * (nuint)_rxBlockCount;
            _mapLength = rxBytes + (nuint)txBlockSize * (nuint)txBlockCount;
            void* map = Libc.mmap(null, _mapLength, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED | Libc.MAP_POPULATE, _fd, 0);
            if ((nint)map == Libc.MAP_FAILED) throw LinuxException.FromLastError($"mmap of the packet rings of {interfaceName}");
            _map = (byte*)map;
            _rxBase = _map;
            _txBase = _map + rxBytes;

            var addr = new sockaddr_ll
            {
                sll_family = Libc.AF_PACKET,
                sll_protocol = _options.Receive ? BinaryPrimitives.ReverseEndianness(Libc.ETH_P_ALL) : (ushort)0,
                sll_ifindex = nic.Index,
            };
            if (Libc.bind(_fd, &addr, sizeof(sockaddr_ll)) < 0) throw LinuxException.FromLastError($"bind(AF_PACKET) to {interfaceName}");

            if (_options.TxMode == AfPacketTxMode.SendMmsg)
            {
                // sendmmsg fails a burst part-way with EAGAIN once the socket's unsent skbs reach SO_SNDBUF; give it
                // room for several bursts of full-size frames. FORCE needs CAP_NET_ADMIN; plain SO_SNDBUF is capped
                // by wmem_max but still better than the default.
                int sndbuf = 4 << 20;
                if (Libc.setsockopt(_fd, Libc.SOL_SOCKET, Libc.SO_SNDBUFFORCE, &sndbuf, sizeof(int)) < 0
                    && Libc.setsockopt(_fd, Libc.SOL_SOCKET, Libc.SO_SNDBUF, &sndbuf, sizeof(int)) < 0)
                    throw LinuxException.FromLastError($"setsockopt(SO_SNDBUF) on {interfaceName}");
            }
            if (_options.FanoutGroup is int group && _options.Receive)
            {
                // Must follow bind: the kernel joins a fanout group only with a running (bound) socket.
                SetOption(Libc.PACKET_FANOUT, (group & 0xFFFF) | (Libc.PACKET_FANOUT_HASH << 16), $"PACKET_FANOUT(hash, group {group})");
            }
            if (_options.KernelIngressDrop && _options.Receive)
            {
                // After bind: from here on the socket's tap sees every frame the kernel stack no longer does.
                _ingressDrop = KernelIngressDrop.TryAttach(nic.Index, out var dropError);
                KernelIngressDropError = dropError;
            }
            if (_options.IngressShed && _options.Receive)
            {
                _shed = IngressShed.TryAttach(nic.Index, out var shedError);
                IngressShedError = shedError;
            }
            if (_options.Promiscuous)
            {
                var mreq = new packet_mreq { mr_ifindex = nic.Index, mr_type = Libc.PACKET_MR_PROMISC };
                if (Libc.setsockopt(_fd, Libc.SOL_PACKET, Libc.PACKET_ADD_MEMBERSHIP, &mreq, sizeof(packet_mreq)) < 0)
                    throw LinuxException.FromLastError($"setsockopt(PACKET_ADD_MEMBERSHIP promisc) on {interfaceName}");
            }

            _msgs = (mmsghdr*)NativeMemory.AllocZeroed((nuint)(PacketBatch.MaxCapacity * sizeof(mmsghdr)));
            _iovs = (iovec*)NativeMemory.AllocZeroed((nuint)(PacketBatch.MaxCapacity * 2 * sizeof(iovec)));
            _zeroVnet = (byte*)NativeMemory.AllocZeroed(16);
            for (int i = 0; i < PacketBatch.MaxCapacity; i++)
            {
                _iovs[2 * i].iov_base = _zeroVnet;
                _iovs[2 * i].iov_len = (nuint)_vnetLength;
                _msgs[i].msg_hdr.msg_iov = _vnetLength > 0 ? &_iovs[2 * i] : &_iovs[2 * i + 1];
                _msgs[i].msg_hdr.msg_iovlen = (nuint)(_vnetLength > 0 ? 2 : 1);
            }
            GC.ReRegisterForFinalize(this);
        }
        catch
        {
            ReleaseNative();
            _pool.Dispose();
            throw;
        }
    }

    /// <summary>The interface as it was when the port opened.</summary>
    public NetInterface Interface { get; }

    public override int PollFd => _fd;

    /// <summary>Guaranteed headroom (PACKET_RESERVE); the actual space in front of a frame is larger (slot header).</summary>
    public override int Headroom => _options.Reserve;

    /// <summary>Received frames that could not be delivered: truncated by the ring, malformed or unsupported GSO,
    /// or no pool buffer for a segment. Also counted in <see cref="PortCounters.RxDropped"/>.</summary>
    public long OffloadDropped;
    /// <summary>GSO super-frames received and segmented.</summary>
    public long GsoFrames;
    /// <summary>CHECKSUM_PARTIAL frames completed in software.</summary>
    public long ChecksumsCompleted;

    public int TxSlots => _txFrameCount;

    /// <summary>True when the kernel's receive path behind this socket is cut off (<see cref="AfPacketOptions.KernelIngressDrop"/>).</summary>
    public bool KernelIngressDropped => _ingressDrop is not null;
    /// <summary>Why the requested ingress drop could not be attached, or null.</summary>
    public string? KernelIngressDropError { get; }
    /// <summary>The overload shed (<see cref="AfPacketOptions.IngressShed"/>) when attached, else null.</summary>
    public IngressShed? Shed => _shed;
    /// <summary>Why the requested ingress shed could not be attached, or null.</summary>
    public string? IngressShedError { get; }

    private void SetOption(int option, int value, string what)
    {
        if (Libc.setsockopt(_fd, Libc.SOL_PACKET, option, &value, sizeof(int)) < 0)
            throw LinuxException.FromLastError($"setsockopt({what}) on {InterfaceName}");
    }

    /// <summary>Adds the kernel's ring-full drops (PACKET_STATISTICS, which resets on read) to the counters.</summary>
    public void RefreshStatistics()
    {
        tpacket_stats_v3 stats;
        int len = sizeof(tpacket_stats_v3);
        Counters.Syscalls++;
        if (Libc.getsockopt(_fd, Libc.SOL_PACKET, Libc.PACKET_STATISTICS, &stats, &len) == 0)
            Counters.RxDropped += stats.tp_drops;
        if (_shed is not null)
        {
            long shed = _shed.Shed;
            Counters.RxDropped += shed - _shedCounted;
            _shedCounted = shed;
        }
    }

    protected override void Dispose(bool disposing)
    {
        ReleaseNative();
        _pool.Dispose(); // FramePool only frees native memory: safe from the finalizer too
    }

    private bool _released;

    private void ReleaseNative()
    {
        if (_released) return;
        _released = true;
        _ingressDrop?.Dispose();
        _shed?.Dispose();
        if (_map != null) Libc.munmap(_map, _mapLength);
        if (_fd >= 0) Libc.close(_fd);
        if (_msgs != null) NativeMemory.Free(_msgs);
        if (_iovs != null) NativeMemory.Free(_iovs);
        if (_zeroVnet != null) NativeMemory.Free(_zeroVnet);
    }

    ~AfPacketPort() => Dispose(false);
}
