// SPDX-License-Identifier: GPL-2.0
/*
 * FastTun's only XDP program: hand each received frame to the AF_XDP socket bound to the queue it arrived
 * on. One XSKMAP entry per rx queue; FastTun's C# side puts its sockets in (fasttun_xdp_map_set).
 *
 * Fallback when a queue has no socket: XDP_PASS, not XDP_DROP. The gateway owns the interface and the
 * kernel side carries no IP address, so a frame the kernel sees is answered by nobody; the cost of PASS is
 * a wasted trip through the stack for frames that arrive between attach and the first XSKMAP update, or on
 * a queue that no worker serves. DROP would black-hole those frames silently: a queue without a worker
 * would look like a dead link, tcpdump on the interface would show nothing, and a mis-sized worker count
 * would be hard to diagnose. PASS keeps "frames reach somebody" true during startup and shutdown.
 *
 * The program name (function name, at most 15 characters) identifies it: the loader uses it to recognise
 * a stale copy of itself left attached by a crashed run and replace it, and to refuse to replace anything
 * else unless forced.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64); /* resized by the loader to the interface's queue count before load */
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

SEC("xdp")
int fasttun_redir(struct xdp_md *ctx)
{
	/* The low bits of flags are the action returned when the lookup finds no socket (kernel >= 5.3). */
	return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
