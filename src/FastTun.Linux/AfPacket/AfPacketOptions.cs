namespace FastTun.Linux.AfPacket;

/// <summary>How an <see cref="AfPacketPort"/> sets up its socket and rings. Defaults suit a 1500-byte veth or NIC.</summary>
public sealed record AfPacketOptions
{
    /// <summary>Rx block size; a power of two, a multiple of the page size and large enough for a 64 KB GSO
    /// super-frame plus headers (the kernel truncates a frame that does not fit in one block).</summary>
    public int RxBlockSize { get; init; } = 128 * 1024;
    /// <summary>At low rates each block closes on the timeout (at least one jiffy) holding a few frames, so the
    /// count bounds how long the worker may stall before the kernel drops: 32 blocks ≈ 128 ms at HZ=250.</summary>
    public int RxBlockCount { get; init; } = 32;
    /// <summary>The kernel hands over a partly filled block after this many ms (rounded up to a jiffy).</summary>
    public int BlockTimeoutMs { get; init; } = 1;
    /// <summary>PACKET_RESERVE: bytes kept free in front of every received frame, the headroom encapsulation
    /// writes into. At least 64.</summary>
    public int Reserve { get; init; } = 128;
    /// <summary>Tx slots. Each slot holds one frame of up to MTU + 18 bytes plus the 48-byte slot header.</summary>
    public int TxFrameCount { get; init; } = 512;
    /// <summary>PACKET_FANOUT group id (0–65535), or null for no fanout. Ports on the same interface with the same
    /// group share its traffic by flow hash.</summary>
    public int? FanoutGroup { get; init; }
    /// <summary>PACKET_VNET_HDR: receive virtio-net headers so CHECKSUM_PARTIAL and GSO frames from a local stack
    /// (veth) can be completed and segmented. Harmless on a NIC (the header is all zeros).</summary>
    public bool VnetHeader { get; init; } = true;
    /// <summary>PACKET_QDISC_BYPASS: transmit straight to the driver, as a NIC-owning gateway should.</summary>
    public bool QdiscBypass { get; init; } = true;
    /// <summary>Hold the interface in promiscuous mode while the port is open.</summary>
    public bool Promiscuous { get; init; }
    /// <summary>Frames in the port's pool for GSO segments; must exceed the largest batch the worker uses.</summary>
    public int SegmentPoolFrames { get; init; } = 512;
    /// <summary>False for a transmit-only port (a traffic generator): the socket binds with protocol 0, so the
    /// kernel copies no frames into its rx ring.</summary>
    public bool Receive { get; init; } = true;
    /// <summary>Transmit with one sendmmsg per burst (default), or through the mmap'd tx ring with one kick per
    /// burst. Measured on the veth reflector (bench/e2e/reflector.sh, interleaved, 3 rounds): sendmmsg delivered
    /// 8–23 % more at 64 B and 4–8 % more at 1514 B. The ring costs a user-space copy into the slot plus page
    /// references from the skb to the ring, where sendmmsg has the kernel copy straight from the rx frame.</summary>
    public AfPacketTxMode TxMode { get; init; } = AfPacketTxMode.SendMmsg;
    /// <summary>Drop every received frame at tc ingress, behind the socket (see <see cref="KernelIngressDrop"/>), so the
    /// kernel's own IP/ARP receive path never runs on the gateway's traffic. For ports that own their interface (the
    /// gateway); a tool sharing the interface with the host's stack leaves it off. Best effort: where the kernel
    /// refuses (no tcx before Linux 6.6) the port opens without it and says so in
    /// <see cref="AfPacketPort.KernelIngressDropError"/>. Ignored for transmit-only ports.</summary>
    public bool KernelIngressDrop { get; init; }
    /// <summary>Shed load at the interface while the rx ring is full (see <see cref="AfPacket.IngressShed"/>): an XDP
    /// program drops every frame while the ring has no free block (<see cref="AfPacketPort.RingFull"/>), so overload
    /// costs the kernel no receive work on frames the socket would drop anyway, and no frame is shed that the ring
    /// had room for. Needs the interface for itself (one XDP program per interface: not with fanout).
    /// Best effort, like <see cref="KernelIngressDrop"/>: <see cref="AfPacketPort.IngressShedError"/> says why not.</summary>
    public bool IngressShed { get; init; }
}

public enum AfPacketTxMode
{
    /// <summary>TPACKET_V3 tx ring: copy into slots, one sendto(NULL, 0, MSG_DONTWAIT) per burst.</summary>
    Ring,
    /// <summary>One sendmmsg per burst, straight from the frame buffers (no tx ring is mapped: sendmsg on a
    /// socket with a tx ring would send the ring instead).</summary>
    SendMmsg,
}
