/* XDP program for run.sh's kernel and AF_PACKET configurations: passes every frame to the stack. Attached to the
 * gateway's ingress veth only so that veth runs NAPI for it: frames from the in-kernel generator (fasttun gen
 * --driver xdp_live) arrive through ndo_xdp_xmit, which veth accepts only when the receiver has NAPI (an XDP
 * program, or GRO on; GRO would also try to merge every frame, so a pass program keeps the stack's work as
 * it was with the skb-based generators). */
#include <linux/bpf.h>

__attribute__((section("xdp"), used)) int e2e_pass(struct xdp_md *ctx)
{
    (void)ctx;
    return XDP_PASS;
}

char _license[] __attribute__((section("license"), used)) = "GPL";
