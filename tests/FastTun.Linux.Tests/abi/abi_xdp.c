/* Prints the kernel ABI of the AF_XDP structs FastTun mirrors in C#: "struct size N" and
 * "struct.field offset N" lines, compared by XdpAbiTests against Unsafe.SizeOf / Marshal.OffsetOf. */
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <linux/bpf.h>
#include <linux/if_xdp.h>

#define SIZE(s) printf("%s size %zu\n", #s, sizeof(struct s))
#define OFF(s, f) printf("%s.%s offset %zu\n", #s, #f, offsetof(struct s, f))

int main(void)
{
	SIZE(xdp_umem_reg);
	OFF(xdp_umem_reg, addr);
	OFF(xdp_umem_reg, len);
	OFF(xdp_umem_reg, chunk_size);
	OFF(xdp_umem_reg, headroom);
	OFF(xdp_umem_reg, flags);

	SIZE(xdp_ring_offset);
	OFF(xdp_ring_offset, producer);
	OFF(xdp_ring_offset, consumer);
	OFF(xdp_ring_offset, desc);
	OFF(xdp_ring_offset, flags);

	SIZE(xdp_mmap_offsets);
	OFF(xdp_mmap_offsets, rx);
	OFF(xdp_mmap_offsets, tx);
	OFF(xdp_mmap_offsets, fr);
	OFF(xdp_mmap_offsets, cr);

	SIZE(sockaddr_xdp);
	OFF(sockaddr_xdp, sxdp_family);
	OFF(sockaddr_xdp, sxdp_flags);
	OFF(sockaddr_xdp, sxdp_ifindex);
	OFF(sockaddr_xdp, sxdp_queue_id);
	OFF(sockaddr_xdp, sxdp_shared_umem_fd);

	SIZE(xdp_desc);
	OFF(xdp_desc, addr);
	OFF(xdp_desc, len);
	OFF(xdp_desc, options);

	SIZE(xdp_statistics);
	OFF(xdp_statistics, rx_dropped);
	OFF(xdp_statistics, rx_invalid_descs);
	OFF(xdp_statistics, tx_invalid_descs);
	OFF(xdp_statistics, rx_ring_full);
	OFF(xdp_statistics, rx_fill_ring_empty_descs);
	OFF(xdp_statistics, tx_ring_empty_descs);

	SIZE(xdp_options);
	OFF(xdp_options, flags);

	/* Constants: printed as "const NAME value". */
	printf("const SOL_XDP %d\n", SOL_XDP);
	printf("const XDP_MMAP_OFFSETS %d\n", XDP_MMAP_OFFSETS);
	printf("const XDP_RX_RING %d\n", XDP_RX_RING);
	printf("const XDP_TX_RING %d\n", XDP_TX_RING);
	printf("const XDP_UMEM_REG %d\n", XDP_UMEM_REG);
	printf("const XDP_UMEM_FILL_RING %d\n", XDP_UMEM_FILL_RING);
	printf("const XDP_UMEM_COMPLETION_RING %d\n", XDP_UMEM_COMPLETION_RING);
	printf("const XDP_STATISTICS %d\n", XDP_STATISTICS);
	printf("const XDP_OPTIONS %d\n", XDP_OPTIONS);
	printf("const XDP_SHARED_UMEM %d\n", XDP_SHARED_UMEM);
	printf("const XDP_COPY %d\n", XDP_COPY);
	printf("const XDP_ZEROCOPY %d\n", XDP_ZEROCOPY);
	printf("const XDP_USE_NEED_WAKEUP %d\n", XDP_USE_NEED_WAKEUP);
	printf("const XDP_RING_NEED_WAKEUP %d\n", XDP_RING_NEED_WAKEUP);
	printf("const XDP_OPTIONS_ZEROCOPY %d\n", XDP_OPTIONS_ZEROCOPY);
	printf("const XDP_PACKET_HEADROOM %d\n", XDP_PACKET_HEADROOM);
	printf("const XDP_PGOFF_RX_RING %lld\n", (long long)XDP_PGOFF_RX_RING);
	printf("const XDP_PGOFF_TX_RING %lld\n", (long long)XDP_PGOFF_TX_RING);
	printf("const XDP_UMEM_PGOFF_FILL_RING %lld\n", (long long)XDP_UMEM_PGOFF_FILL_RING);
	printf("const XDP_UMEM_PGOFF_COMPLETION_RING %lld\n", (long long)XDP_UMEM_PGOFF_COMPLETION_RING);
	return 0;
}
