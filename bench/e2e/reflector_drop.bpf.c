/* tc ingress program for reflector.sh: drops every frame. Attached behind an AF_PACKET socket (taps run before tc
 * ingress) so the kernel stack does not process frames FastTun owns, and on the generator's veth as a cheap sink.
 * This kernel has cls_bpf but no act_gact/matchall, hence a program instead of "matchall action drop". */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

__attribute__((section("tc"), used)) int reflector_drop(struct __sk_buff *skb)
{
    (void)skb;
    return TC_ACT_SHOT;
}

char _license[] __attribute__((section("license"), used)) = "GPL";
