using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

// Kernel ABI for AF_PACKET (include/uapi/linux/if_packet.h, if_ether.h, virtio_net.h, if.h). Field names are the
// kernel's so a reader can grep the header; every struct here is checked field by field against the C compiler's
// sizeof/offsetof in tests/FastTun.Linux.Tests/abi/abi_packet.c (AbiPacketTests). These structs overlay kernel
// memory (the mmap'd rings) or syscall arguments, never wire bytes.

/// <summary>PACKET_RX_RING / PACKET_TX_RING argument for TPACKET_V3.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct tpacket_req3
{
    public uint tp_block_size;
    public uint tp_block_nr;
    public uint tp_frame_size;
    public uint tp_frame_nr;
    public uint tp_retire_blk_tov;
    public uint tp_sizeof_priv;
    public uint tp_feature_req_word;
}

[StructLayout(LayoutKind.Sequential)]
internal struct tpacket_hdr_variant1
{
    public uint tp_rxhash;
    public uint tp_vlan_tci;
    public ushort tp_vlan_tpid;
    public ushort tp_padding;
}

/// <summary>Per-frame header in a TPACKET_V3 block (rx) or slot (tx).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct tpacket3_hdr
{
    public uint tp_next_offset;
    public uint tp_sec;
    public uint tp_nsec;
    public uint tp_snaplen;
    public uint tp_len;
    public uint tp_status;
    public ushort tp_mac;
    public ushort tp_net;
    public tpacket_hdr_variant1 hv1;
    public fixed byte tp_padding[8];
}

[StructLayout(LayoutKind.Sequential)]
internal struct tpacket_bd_ts
{
    public uint ts_sec;
    public uint ts_usec;
}

/// <summary>Block header of a TPACKET_V3 rx block. seq_num is 8-aligned in the kernel (aligned_u64).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct tpacket_hdr_v1
{
    public uint block_status;
    public uint num_pkts;
    public uint offset_to_first_pkt;
    public uint blk_len;
    public ulong seq_num;
    public tpacket_bd_ts ts_first_pkt;
    public tpacket_bd_ts ts_last_pkt;
}

[StructLayout(LayoutKind.Sequential)]
internal struct tpacket_block_desc
{
    public uint version;
    public uint offset_to_priv;
    public tpacket_hdr_v1 hdr;
}

/// <summary>Link-layer socket address (bind, sendto).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct sockaddr_ll
{
    public ushort sll_family;
    /// <summary>Network byte order.</summary>
    public ushort sll_protocol;
    public int sll_ifindex;
    public ushort sll_hatype;
    public byte sll_pkttype;
    public byte sll_halen;
    public fixed byte sll_addr[8];
}

/// <summary>Header in front of every frame when PACKET_VNET_HDR is on (host byte order on x86: legacy virtio).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct virtio_net_hdr
{
    public byte flags;
    public byte gso_type;
    public ushort hdr_len;
    public ushort gso_size;
    public ushort csum_start;
    public ushort csum_offset;
}

/// <summary>PACKET_STATISTICS for TPACKET_V3. Reading it resets the kernel's counters.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct tpacket_stats_v3
{
    public uint tp_packets;
    public uint tp_drops;
    public uint tp_freeze_q_cnt;
}

/// <summary>PACKET_ADD_MEMBERSHIP argument (promiscuous mode held for the socket's lifetime).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct packet_mreq
{
    public int mr_ifindex;
    public ushort mr_type;
    public ushort mr_alen;
    public fixed byte mr_address[8];
}

/// <summary>The parts of <c>struct ifreq</c> the interface ioctls use: a 16-byte name and a 24-byte union
/// (ifr_ifindex, ifr_mtu, ifr_flags and ifr_hwaddr all start at offset 16).</summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
internal unsafe struct ifreq
{
    public const int IFNAMSIZ = 16;
    [FieldOffset(0)] public fixed byte ifr_name[IFNAMSIZ];
    [FieldOffset(16)] public int ifr_ifindex;
    [FieldOffset(16)] public int ifr_mtu;
    [FieldOffset(16)] public short ifr_flags;
    /// <summary>ifr_hwaddr.sa_family.</summary>
    [FieldOffset(16)] public ushort ifr_hwaddr_family;
    /// <summary>ifr_hwaddr.sa_data (14 bytes; an Ethernet MAC uses the first 6).</summary>
    [FieldOffset(18)] public fixed byte ifr_hwaddr_data[14];
}

internal static partial class Libc
{
    public const int SOL_PACKET = 263;

    // setsockopt(SOL_PACKET, …) options.
    public const int PACKET_ADD_MEMBERSHIP = 1;
    public const int PACKET_RX_RING = 5;
    public const int PACKET_STATISTICS = 6;
    public const int PACKET_VERSION = 10;
    public const int PACKET_RESERVE = 12;
    public const int PACKET_TX_RING = 13;
    public const int PACKET_LOSS = 14;
    public const int PACKET_VNET_HDR = 15;
    public const int PACKET_FANOUT = 18;
    public const int PACKET_QDISC_BYPASS = 20;
    public const int PACKET_IGNORE_OUTGOING = 23;

    public const int TPACKET_V2 = 1;
    public const int TPACKET_V3 = 2;
    /// <summary>TPACKET_ALIGNMENT: frames and headers in the rings are 16-aligned.</summary>
    public const int TPACKET_ALIGNMENT = 16;

    // Rx status (tpacket3_hdr.tp_status and tpacket_hdr_v1.block_status).
    public const uint TP_STATUS_KERNEL = 0;
    public const uint TP_STATUS_USER = 1;
    public const uint TP_STATUS_COPY = 1 << 1;
    public const uint TP_STATUS_LOSING = 1 << 2;
    public const uint TP_STATUS_CSUMNOTREADY = 1 << 3;
    public const uint TP_STATUS_VLAN_VALID = 1 << 4;
    public const uint TP_STATUS_BLK_TMO = 1 << 5;
    public const uint TP_STATUS_CSUM_VALID = 1 << 7;
    // Tx status.
    public const uint TP_STATUS_AVAILABLE = 0;
    public const uint TP_STATUS_SEND_REQUEST = 1;
    public const uint TP_STATUS_SENDING = 1 << 1;
    public const uint TP_STATUS_WRONG_FORMAT = 1 << 2;

    public const int PACKET_FANOUT_HASH = 0;
    public const int PACKET_FANOUT_LB = 1;
    public const int PACKET_FANOUT_CPU = 2;
    public const int PACKET_FANOUT_FLAG_DEFRAG = 0x8000;

    public const int PACKET_MR_PROMISC = 1;

    public const byte PACKET_HOST = 0;
    public const byte PACKET_OUTGOING = 4;

    public const ushort ETH_P_ALL = 0x0003;
    public const ushort ETH_P_IP = 0x0800;

    public const byte VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
    public const byte VIRTIO_NET_HDR_F_DATA_VALID = 2;
    public const byte VIRTIO_NET_HDR_GSO_NONE = 0;
    public const byte VIRTIO_NET_HDR_GSO_TCPV4 = 1;
    public const byte VIRTIO_NET_HDR_GSO_UDP = 3;
    public const byte VIRTIO_NET_HDR_GSO_TCPV6 = 4;
    public const byte VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
    public const byte VIRTIO_NET_HDR_GSO_ECN = 0x80;

    // Interface ioctls (include/uapi/linux/sockios.h) and flags (if.h).
    public const uint SIOCGIFFLAGS = 0x8913;
    public const uint SIOCSIFFLAGS = 0x8914;
    public const uint SIOCGIFMTU = 0x8921;
    public const uint SIOCGIFHWADDR = 0x8927;
    public const uint SIOCGIFINDEX = 0x8933;
    public const int IFF_UP = 0x1;
    public const int IFF_RUNNING = 0x40;
    public const int IFF_PROMISC = 0x100;
    public const int IFF_LOWER_UP = 0x10000;
    public const ushort ARPHRD_ETHER = 1;

    public const int NETLINK_ROUTE = 0;
}
