// SPDX-License-Identifier: GPL-2.0
/*
 * FastTun's traffic generator program, run by fasttun_gen.c through BPF_PROG_RUN with
 * BPF_F_TEST_XDP_LIVE_FRAMES (kernel >= 5.18): the kernel feeds it copies of one template frame from a page
 * pool, and XDP_TX sends each one out of the interface named in the run's context (on veth: into the peer's
 * rx ring). Nothing leaves user space per packet, so one core offers far more than a gateway takes.
 *
 * Per frame it makes the same packet `fasttun gen`'s C# loop makes (TrafficFrames.Fill): UDP source port
 * port_base + flow, payload flow id, a sequence number per flow and a CLOCK_MONOTONIC timestamp (read every
 * 32 frames), and the inner UDP checksum from a base sum computed by the caller with those fields zero
 * (RFC 1624: add the new words, fold, complement). The IPv4 headers and any tunnel header stay as in the
 * template (and are restored from it in every run: see below). With a rate, a run whose frame is not yet due returns XDP_DROP untouched (a few ns), so the
 * kernel keeps offering at most that rate, evenly, instead of bursts. One program instance runs on one CPU at a time (the caller's), so the state needs no atomics.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define GEN_MAX_FLOWS 4096
#define GEN_PAYLOAD_FLOW 4
#define GEN_PAYLOAD_SEQ 6
#define GEN_PAYLOAD_TS 14
#define GEN_PAYLOAD_LEN 22
#define GEN_MAX_UDP_OFFSET 256
#define GEN_HEAD_WORDS 16

/* Set by the loader before load: the only variable in .rodata (a read-only map, so the verifier knows the
 * values). Same layout as struct fasttun_gen_cfg in fasttun_gen.c. */
struct gen_cfg {
	__u32 udp_offset; /* offset of the inner UDP header in the frame */
	__u32 flows;      /* 1..GEN_MAX_FLOWS */
	__u32 port_base;  /* UDP source port of flow 0 */
	__u32 base_sum;   /* folded sum of pseudo header + UDP with the patched fields zero */
	__u64 rate_pps;   /* 0: every frame is sent; else at most this many per second since the first frame */
	__u64 head[GEN_HEAD_WORDS]; /* the template's first GEN_HEAD_WORDS * 8 bytes */
};
const volatile struct gen_cfg cfg = { .flows = 1 };

/* Run state: the only variable in .bss; the loader reads frames (offset 0) after the run. */
struct gen_state {
	__u64 frames;   /* frames sent: the offered load */
	__u64 now_ns;   /* timestamp written into the frames, refreshed every 32 (every 8 when paced) */
	__u32 next_flow;
	__u32 ticks;    /* program runs since now_ns was read */
	__u64 start_ns; /* first frame (pacing) */
	__u64 skipped;  /* runs dropped by the pacing (XDP_DROP before anything is written) */
	__u64 sequence[GEN_MAX_FLOWS];
};
struct gen_state state = {};

static __always_inline __u32 word_sum64(__u64 v)
{
	return (__u32)(v >> 48) + (__u32)((v >> 32) & 0xffff) + (__u32)((v >> 16) & 0xffff) + (__u32)(v & 0xffff);
}

static __always_inline void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static __always_inline void put64(__u8 *p, __u64 v)
{
	__u64 be = __builtin_bswap64(v);
	__builtin_memcpy(p, &be, 8);
}

SEC("xdp")
int fasttun_gen(struct xdp_md *ctx)
{
	__u8 *data = (__u8 *)(long)ctx->data;
	__u8 *end = (__u8 *)(long)ctx->data_end;
	__u32 off = cfg.udp_offset;
	if (off > GEN_MAX_UDP_OFFSET)
		return XDP_ABORTED;
	__u8 *udp = data + off;
	if (udp + 8 + GEN_PAYLOAD_LEN > end)
		return XDP_ABORTED;

	/* The kernel recycles a frame's page without copying the template back, and a receiver that wrote into it
	 * (the kernel's forwarding rewrites MACs and TTL in place; VXLAN pushes its outer headers over the inner
	 * Ethernet header) would have the next copy start from its output. Restore every header each time. */
#pragma unroll
	for (int k = 0; k < GEN_HEAD_WORDS; k++) {
		if (data + k * 8 + 8 > end)
			break;
		__u64 word = cfg.head[k]; /* a volatile read: a cast would let the compiler fold it to the initializer */
		__builtin_memcpy(data + k * 8, &word, 8);
	}

	if (cfg.rate_pps) {
		/* Token bucket without a bucket: frame n may leave once n / rate seconds have passed. */
		if (state.ticks++ % 8 == 0 || state.start_ns == 0)
			state.now_ns = bpf_ktime_get_ns();
		if (state.start_ns == 0)
			state.start_ns = state.now_ns;
		if (state.frames * 1000000000ull > (state.now_ns - state.start_ns) * cfg.rate_pps) {
			state.skipped++;
			return XDP_DROP;
		}
	} else if (state.ticks++ % 32 == 0) {
		state.now_ns = bpf_ktime_get_ns();
	}
	state.frames++;
	__u32 flow = state.next_flow;
	if (flow >= GEN_MAX_FLOWS)
		flow = 0;
	__u64 seq = state.sequence[flow]++;
	state.next_flow = flow + 1 >= cfg.flows ? 0 : flow + 1;
	__u64 ts = state.now_ns;

	__u16 port = (__u16)(cfg.port_base + flow);
	__u8 *payload = udp + 8;
	put16(udp, port);
	put16(payload + GEN_PAYLOAD_FLOW, (__u16)flow);
	put64(payload + GEN_PAYLOAD_SEQ, seq);
	put64(payload + GEN_PAYLOAD_TS, ts);
	__u32 sum = cfg.base_sum + port + (__u16)flow + word_sum64(seq) + word_sum64(ts);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	__u16 csum = ~sum & 0xffff;
	put16(udp + 6, csum == 0 ? 0xffff : csum);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
