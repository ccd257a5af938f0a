using System.Runtime.InteropServices;
using FastTun.Linux.Interop;

namespace FastTun.Linux.AfPacket;

/// <summary>
/// Overload protection for an AF_PACKET port: an XDP program on the interface that drops every frame while the
/// port's worker says its rx ring is full, before the kernel spends anything else on it.
///
/// Why: a frame for an AF_PACKET socket costs the kernel its whole receive path (on veth with RPS: the backlog
/// hand-over to the gateway's core, __netif_receive_skb, the tap's copy into the ring) before tpacket_rcv finds the
/// ring full and drops it. That cost grows with the offered load and runs in softirq ahead of the worker, so past
/// the worker's capacity every extra offered frame takes CPU from forwarding (receive livelock; bench/RESULTS.md
/// sections afpkt and e2e2). A NIC whose ring is full drops in hardware at no CPU cost; this is that drop. In
/// native XDP on veth it runs in the sender's NAPI (before RPS), elsewhere in the driver's NAPI before any skb work.
///
/// The shed flag and the drop counter live in a one-entry BPF array mapped into this process (BPF_F_MMAPABLE):
/// the worker sets and clears the flag with a plain store, no syscall. The program (assembled here, no object
/// file, no libbpf):
/// <code>
///   r1 = &amp;value            ; ld_imm64 BPF_PSEUDO_MAP_VALUE
///   r2 = *(u32 *)(r1 + 0)   ; the flag
///   r0 = XDP_PASS
///   if r2 == 0 goto out
///   r3 = 1
///   lock *(u64 *)(r1 + 8) += r3   ; frames shed
///   r0 = XDP_DROP
/// out: exit
/// </code>
/// Attached through a bpf_link (native mode, generic where the driver has none) that lives as long as this
/// object's descriptors. Needs CAP_BPF/CAP_NET_ADMIN; <see cref="TryAttach"/> says why when it cannot.
/// </summary>
public sealed unsafe class IngressShed : IDisposable
{
    /// <summary>The shed for every single-queue af_packet port of the gateway: on by default (unset, empty or 1), 0 turns
    /// it off.</summary>
    public const string Variable = "FASTTUN_AFPACKET_SHED";

    /// <summary>Whether the gateway's af_packet ports ask for the shed, from <see cref="Variable"/>'s value (null =
    /// unset = on). Default since lat6: the shed now drops only while the rx ring is full (<see cref="AfPacketPort.RingFull"/>),
    /// where the kernel would drop the frame anyway; e2e5's hysteresis (shed from ¾ full until ¼) also dropped bursts
    /// the ring had room for, which is how the netns tests lost pings with it on. Throws naming the variable on a bad value.</summary>
    public static bool Enabled(string? value) => value?.Trim() switch
    {
        null or "" or "1" => true,
        "0" => false,
        _ => throw new InvalidOperationException($"{Variable}='{value}': expected 1 (on, the default) or 0 (off)"),
    };

    private const uint BpfMapTypeArray = 2;
    private const uint BpfFMmapable = 1 << 10;
    private const int ValueSize = 16;
    private const int MapLength = 4096;

    private int _mapFd;
    private int _linkFd;
    private byte* _value;

    private IngressShed(int mapFd, int linkFd, byte* value, bool native)
    {
        _mapFd = mapFd;
        _linkFd = linkFd;
        _value = value;
        Native = native;
    }

    /// <summary>True when the program runs in the driver (native XDP), false in generic (skb) mode.</summary>
    public bool Native { get; }

    /// <summary>While true, the interface drops every received frame before the kernel's receive path.</summary>
    public bool Shedding
    {
        get => Volatile.Read(ref *(uint*)_value) != 0;
        // A plain store the program reads on its next frame; no ordering with anything else is needed.
        set => Volatile.Write(ref *(uint*)_value, value ? 1u : 0u);
    }

    /// <summary>Frames the program dropped so far (written by the kernel with atomic adds).</summary>
    public long Shed => (long)Volatile.Read(ref *(ulong*)(_value + 8));

    /// <summary>Attaches the shed to <paramref name="ifindex"/> in the calling thread's network namespace, not
    /// shedding. Returns null and the reason when the kernel refuses.</summary>
    public static IngressShed? TryAttach(int ifindex, out string? error)
    {
        byte* attr = stackalloc byte[128];
        new Span<byte>(attr, 128).Clear();
        // BPF_MAP_CREATE: map_type@0 key_size@4 value_size@8 max_entries@12 map_flags@16 ... map_name@28.
        *(uint*)attr = BpfMapTypeArray;
        *(uint*)(attr + 4) = 4;
        *(uint*)(attr + 8) = ValueSize;
        *(uint*)(attr + 12) = 1;
        *(uint*)(attr + 16) = BpfFMmapable;
        "ft_shed"u8.CopyTo(new Span<byte>(attr + 28, 7));
        int mapFd = Bpf.Command(Bpf.MapCreate, attr, 128);
        if (mapFd < 0)
        {
            error = $"bpf(BPF_MAP_CREATE mmapable array): {Libc.strerror(Marshal.GetLastPInvokeError())}";
            return null;
        }
        byte* value = null;
        int linkFd = -1;
        try
        {
            value = (byte*)Libc.mmap(null, MapLength, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, mapFd, 0);
            if (value == (byte*)-1)
            {
                value = null;
                error = $"mmap(shed map): {Libc.strerror(Marshal.GetLastPInvokeError())}";
                return null;
            }
            int progFd = LoadProgram(mapFd, out error);
            if (progFd < 0) return null;
            bool native = true;
            try
            {
                linkFd = Bpf.LinkCreate(progFd, ifindex, Bpf.AttachXdp, Bpf.XdpFlagsDrvMode);
                if (linkFd < 0)
                {
                    native = false;
                    linkFd = Bpf.LinkCreate(progFd, ifindex, Bpf.AttachXdp, Bpf.XdpFlagsSkbMode);
                }
                if (linkFd < 0)
                {
                    error = $"bpf(BPF_LINK_CREATE xdp, ifindex {ifindex}): {Libc.strerror(Marshal.GetLastPInvokeError())}";
                    return null;
                }
            }
            finally
            {
                Libc.close(progFd); // the link holds its own reference to the program
            }
            error = null;
            var shed = new IngressShed(mapFd, linkFd, value, native);
            mapFd = -1; linkFd = -1; value = null;
            return shed;
        }
        finally
        {
            if (linkFd >= 0) Libc.close(linkFd);
            if (value != null) Libc.munmap(value, MapLength);
            if (mapFd >= 0) Libc.close(mapFd);
        }
    }

    private static int LoadProgram(int mapFd, out string? error)
    {
        ulong* insns = stackalloc ulong[9];
        insns[0] = Insn(0x18, 1, 2, 0, mapFd);  // ld_imm64 r1, map value (src_reg BPF_PSEUDO_MAP_VALUE)
        insns[1] = Insn(0x00, 0, 0, 0, 0);      //   offset 0 into the value
        insns[2] = Insn(0x61, 2, 1, 0, 0);      // r2 = *(u32 *)(r1 + 0)
        insns[3] = Insn(0xb7, 0, 0, 0, 2);      // r0 = XDP_PASS
        insns[4] = Insn(0x15, 2, 0, 3, 0);      // if r2 == 0 goto +3
        insns[5] = Insn(0xb7, 3, 0, 0, 1);      // r3 = 1
        insns[6] = Insn(0xdb, 1, 3, 8, 0);      // lock *(u64 *)(r1 + 8) += r3 (BPF_ATOMIC, BPF_ADD)
        insns[7] = Insn(0xb7, 0, 0, 0, 1);      // r0 = XDP_DROP
        insns[8] = Insn(0x95, 0, 0, 0, 0);      // exit
        int fd = Bpf.ProgLoad(Bpf.ProgTypeXdp, insns, 9, "ft_shed"u8);
        error = fd < 0 ? $"bpf(BPF_PROG_LOAD xdp shed): {Libc.strerror(Marshal.GetLastPInvokeError())}" : null;
        return fd;
    }

    /// <summary>One struct bpf_insn: code, dst_reg:4 | src_reg:4, s16 off, s32 imm (little endian).</summary>
    private static ulong Insn(byte code, int dst, int src, short off, int imm) =>
        code | (ulong)(byte)(dst | (src << 4)) << 8 | (ulong)(ushort)off << 16 | (ulong)(uint)imm << 32;

    public void Dispose()
    {
        if (_linkFd >= 0) Libc.close(_linkFd); // closing the last link fd detaches the program
        if (_value != null) Libc.munmap(_value, MapLength);
        if (_mapFd >= 0) Libc.close(_mapFd);
        _linkFd = -1; _mapFd = -1; _value = null;
    }
}
