using System.Runtime.InteropServices;
using FastTun.Linux.Interop;

namespace FastTun.Linux.AfPacket;

/// <summary>
/// A tcx ingress program on an interface that drops every frame (TC_ACT_SHOT), attached through a bpf_link
/// that lives as long as this object's descriptor (a crashed gateway leaves nothing attached).
///
/// Why: an AF_PACKET socket is a tap; the kernel still runs its own receive path on every frame after it
/// (ip_rcv, a route lookup that fails because FastTun's interfaces have no address and forwarding is off,
/// a dst allocated and freed through RCU per frame, ARP answers). On a gateway core that also runs the
/// interface's receive softirq, that is about half of the kernel's receive cost per offered frame, spent on
/// frames that are dropped anyway, and it is the cost that grows with the offered load, not with what the
/// worker can forward. Taps run before tc ingress (__netif_receive_skb_core), so the socket still sees
/// everything; the kernel's stack sees nothing, which is what DESIGN.md says a FastTun interface is.
///
/// The program is two instructions assembled here (r0 = TC_ACT_SHOT; exit): no object file, no libbpf.
/// Needs Linux 6.6+ (tcx) and CAP_BPF/CAP_NET_ADMIN; <see cref="TryAttach"/> reports why when it cannot.
/// </summary>
public sealed unsafe class KernelIngressDrop : IDisposable
{
    private const int TcActShot = 2;

    private int _linkFd;

    private KernelIngressDrop(int linkFd) => _linkFd = linkFd;

    /// <summary>Attaches the drop to <paramref name="ifindex"/> in the calling thread's network namespace.
    /// Returns null and the reason when the kernel refuses (no tcx before 6.6, no privilege).</summary>
    public static KernelIngressDrop? TryAttach(int ifindex, out string? error)
    {
        // BPF_ALU64|BPF_MOV|BPF_K r0 = TC_ACT_SHOT; BPF_JMP|BPF_EXIT.
        ulong* insns = stackalloc ulong[2];
        insns[0] = 0xb7UL | ((ulong)(uint)TcActShot << 32);
        insns[1] = 0x95UL;
        int progFd = Bpf.ProgLoad(Bpf.ProgTypeSchedCls, insns, 2, "ft_ingress_drop"u8);
        if (progFd < 0)
        {
            error = $"bpf(BPF_PROG_LOAD tc drop): {Libc.strerror(Marshal.GetLastPInvokeError())}";
            return null;
        }
        try
        {
            int linkFd = Bpf.LinkCreate(progFd, ifindex, Bpf.AttachTcxIngress, 0);
            if (linkFd < 0)
            {
                error = $"bpf(BPF_LINK_CREATE tcx ingress, ifindex {ifindex}): {Libc.strerror(Marshal.GetLastPInvokeError())}";
                return null;
            }
            error = null;
            return new KernelIngressDrop(linkFd);
        }
        finally
        {
            Libc.close(progFd); // the link holds its own reference to the program
        }
    }

    public void Dispose()
    {
        if (_linkFd >= 0) Libc.close(_linkFd); // closing the last link fd detaches the program
        _linkFd = -1;
    }
}
