/* Prints the kernel ABI of the AF_PACKET structs and constants FastTun uses, one "name value" per line, for
 * AbiPacketTests (compiled and run by AbiProbe at test time). struct.size is sizeof, struct.field is offsetof. */
#define _GNU_SOURCE /* struct mmsghdr */
#include <stddef.h>
#include <stdio.h>
#include <signal.h>
#include <sys/socket.h>
#include <net/if.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <linux/if_arp.h>
#include <linux/sockios.h>
#include <linux/virtio_net.h>

#define SIZE(t) printf(#t ".size %zu\n", sizeof(struct t))
#define OFF(t, f) printf(#t "." #f " %zu\n", offsetof(struct t, f))
#define CONST(c) printf(#c " %lld\n", (long long)(c))

int main(void)
{
    SIZE(tpacket_req3);
    OFF(tpacket_req3, tp_block_size); OFF(tpacket_req3, tp_block_nr); OFF(tpacket_req3, tp_frame_size);
    OFF(tpacket_req3, tp_frame_nr); OFF(tpacket_req3, tp_retire_blk_tov); OFF(tpacket_req3, tp_sizeof_priv);
    OFF(tpacket_req3, tp_feature_req_word);

    SIZE(tpacket_hdr_variant1);
    OFF(tpacket_hdr_variant1, tp_rxhash); OFF(tpacket_hdr_variant1, tp_vlan_tci);
    OFF(tpacket_hdr_variant1, tp_vlan_tpid); OFF(tpacket_hdr_variant1, tp_padding);

    SIZE(tpacket3_hdr);
    OFF(tpacket3_hdr, tp_next_offset); OFF(tpacket3_hdr, tp_sec); OFF(tpacket3_hdr, tp_nsec);
    OFF(tpacket3_hdr, tp_snaplen); OFF(tpacket3_hdr, tp_len); OFF(tpacket3_hdr, tp_status);
    OFF(tpacket3_hdr, tp_mac); OFF(tpacket3_hdr, tp_net); OFF(tpacket3_hdr, hv1); OFF(tpacket3_hdr, tp_padding);

    SIZE(tpacket_bd_ts);
    OFF(tpacket_bd_ts, ts_sec); OFF(tpacket_bd_ts, ts_usec);

    SIZE(tpacket_hdr_v1);
    OFF(tpacket_hdr_v1, block_status); OFF(tpacket_hdr_v1, num_pkts); OFF(tpacket_hdr_v1, offset_to_first_pkt);
    OFF(tpacket_hdr_v1, blk_len); OFF(tpacket_hdr_v1, seq_num); OFF(tpacket_hdr_v1, ts_first_pkt);
    OFF(tpacket_hdr_v1, ts_last_pkt);

    SIZE(tpacket_block_desc);
    OFF(tpacket_block_desc, version); OFF(tpacket_block_desc, offset_to_priv); OFF(tpacket_block_desc, hdr);

    SIZE(sockaddr_ll);
    OFF(sockaddr_ll, sll_family); OFF(sockaddr_ll, sll_protocol); OFF(sockaddr_ll, sll_ifindex);
    OFF(sockaddr_ll, sll_hatype); OFF(sockaddr_ll, sll_pkttype); OFF(sockaddr_ll, sll_halen);
    OFF(sockaddr_ll, sll_addr);

    SIZE(virtio_net_hdr);
    OFF(virtio_net_hdr, flags); OFF(virtio_net_hdr, gso_type); OFF(virtio_net_hdr, hdr_len);
    OFF(virtio_net_hdr, gso_size); OFF(virtio_net_hdr, csum_start); OFF(virtio_net_hdr, csum_offset);

    SIZE(tpacket_stats_v3);
    OFF(tpacket_stats_v3, tp_packets); OFF(tpacket_stats_v3, tp_drops); OFF(tpacket_stats_v3, tp_freeze_q_cnt);

    SIZE(packet_mreq);
    OFF(packet_mreq, mr_ifindex); OFF(packet_mreq, mr_type); OFF(packet_mreq, mr_alen); OFF(packet_mreq, mr_address);

    SIZE(ifreq);
    printf("ifreq.ifr_name %zu\n", offsetof(struct ifreq, ifr_name));
    printf("ifreq.ifr_ifindex %zu\n", offsetof(struct ifreq, ifr_ifindex));
    printf("ifreq.ifr_mtu %zu\n", offsetof(struct ifreq, ifr_mtu));
    printf("ifreq.ifr_flags %zu\n", offsetof(struct ifreq, ifr_flags));
    printf("ifreq.ifr_hwaddr_family %zu\n", offsetof(struct ifreq, ifr_hwaddr.sa_family));
    printf("ifreq.ifr_hwaddr_data %zu\n", offsetof(struct ifreq, ifr_hwaddr.sa_data));

    SIZE(iovec); OFF(iovec, iov_base); OFF(iovec, iov_len);
    SIZE(msghdr);
    OFF(msghdr, msg_name); OFF(msghdr, msg_namelen); OFF(msghdr, msg_iov); OFF(msghdr, msg_iovlen);
    OFF(msghdr, msg_control); OFF(msghdr, msg_controllen); OFF(msghdr, msg_flags);
    SIZE(mmsghdr); OFF(mmsghdr, msg_hdr); OFF(mmsghdr, msg_len);

    CONST(SOL_PACKET); CONST(PACKET_ADD_MEMBERSHIP); CONST(PACKET_RX_RING); CONST(PACKET_STATISTICS);
    CONST(PACKET_VERSION); CONST(PACKET_RESERVE); CONST(PACKET_TX_RING); CONST(PACKET_LOSS);
    CONST(PACKET_VNET_HDR); CONST(PACKET_FANOUT); CONST(PACKET_QDISC_BYPASS); CONST(PACKET_IGNORE_OUTGOING);
    CONST(TPACKET_V2); CONST(TPACKET_V3); CONST(TPACKET_ALIGNMENT);
    CONST(TP_STATUS_KERNEL); CONST(TP_STATUS_USER); CONST(TP_STATUS_COPY); CONST(TP_STATUS_LOSING);
    CONST(TP_STATUS_CSUMNOTREADY); CONST(TP_STATUS_VLAN_VALID); CONST(TP_STATUS_BLK_TMO);
    CONST(TP_STATUS_CSUM_VALID); CONST(TP_STATUS_AVAILABLE); CONST(TP_STATUS_SEND_REQUEST);
    CONST(TP_STATUS_SENDING); CONST(TP_STATUS_WRONG_FORMAT);
    CONST(PACKET_FANOUT_HASH); CONST(PACKET_FANOUT_LB); CONST(PACKET_FANOUT_CPU); CONST(PACKET_FANOUT_FLAG_DEFRAG);
    CONST(PACKET_MR_PROMISC); CONST(PACKET_HOST); CONST(PACKET_OUTGOING);
    CONST(ETH_P_ALL); CONST(ETH_P_IP);
    CONST(VIRTIO_NET_HDR_F_NEEDS_CSUM); CONST(VIRTIO_NET_HDR_F_DATA_VALID); CONST(VIRTIO_NET_HDR_GSO_NONE);
    CONST(VIRTIO_NET_HDR_GSO_TCPV4); CONST(VIRTIO_NET_HDR_GSO_UDP); CONST(VIRTIO_NET_HDR_GSO_TCPV6);
#ifdef VIRTIO_NET_HDR_GSO_UDP_L4 /* uapi headers before 6.2 lack it; the kernel value is fixed at 5 */
    CONST(VIRTIO_NET_HDR_GSO_UDP_L4);
#endif
    CONST(VIRTIO_NET_HDR_GSO_ECN);
    CONST(SIOCGIFFLAGS); CONST(SIOCSIFFLAGS); CONST(SIOCGIFMTU); CONST(SIOCGIFHWADDR); CONST(SIOCGIFINDEX);
    CONST(IFF_UP); CONST(IFF_RUNNING); CONST(IFF_PROMISC); CONST(ARPHRD_ETHER); CONST(IFNAMSIZ);
    CONST(SOCK_NONBLOCK); CONST(SOCK_CLOEXEC); CONST(MSG_DONTWAIT); CONST(AF_PACKET); CONST(AF_NETLINK);
    CONST(SIG_DFL); CONST(SIG_IGN); CONST(SIGHUP); CONST(SIGINT); CONST(SIGQUIT); CONST(SIGTERM);
    return 0;
}
