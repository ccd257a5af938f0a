using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

/// <summary>
/// The bpf(2) commands FastTun's in-place programs need (no libbpf, no object files): load a program from
/// instructions assembled in C#, and attach it through a bpf_link, whose last closed descriptor detaches it (a
/// crashed gateway leaves nothing attached). Tmds.LibC has no bpf wrapper, hence the raw syscall. Each returns a
/// descriptor or −1 with errno set (<see cref="Marshal.GetLastPInvokeError"/>).
/// </summary>
internal static unsafe partial class Bpf
{
    private const long SysBpf = 321; // x86_64
    public const int MapCreate = 0;
    private const int ProgLoadCmd = 5;
    private const int LinkCreateCmd = 28;

    public const uint ProgTypeSchedCls = 3;
    public const uint ProgTypeXdp = 6;
    public const uint AttachXdp = 37;
    public const uint AttachTcxIngress = 46;
    public const uint XdpFlagsSkbMode = 2;
    public const uint XdpFlagsDrvMode = 4;

    /// <summary>BPF_PROG_LOAD of <paramref name="count"/> instructions under the GPL licence, named
    /// <paramref name="name"/> (at most 15 bytes, as bpftool shows it).</summary>
    public static int ProgLoad(uint progType, ulong* insns, int count, ReadOnlySpan<byte> name)
    {
        if (name.Length > 15) throw new ArgumentException("a BPF object name has at most 15 bytes", nameof(name));
        byte* license = stackalloc byte[4];
        "GPL"u8.CopyTo(new Span<byte>(license, 3));
        license[3] = 0;
        byte* attr = stackalloc byte[128];
        new Span<byte>(attr, 128).Clear();
        // union bpf_attr, BPF_PROG_LOAD: prog_type@0 insn_cnt@4 insns@8 license@16 ... prog_name@48.
        *(uint*)attr = progType;
        *(uint*)(attr + 4) = (uint)count;
        *(ulong*)(attr + 8) = (ulong)insns;
        *(ulong*)(attr + 16) = (ulong)license;
        name.CopyTo(new Span<byte>(attr + 48, name.Length));
        return (int)syscall(SysBpf, ProgLoadCmd, attr, 128);
    }

    /// <summary>BPF_LINK_CREATE of <paramref name="progFd"/> on interface <paramref name="ifindex"/>; the link holds
    /// its own reference to the program, so the caller may close <paramref name="progFd"/> afterwards.</summary>
    public static int LinkCreate(int progFd, int ifindex, uint attachType, uint flags)
    {
        // BPF_LINK_CREATE: prog_fd@0 target_ifindex@4 attach_type@8 flags@12 (tcx: relative_fd@16 revision@24, zero).
        byte* attr = stackalloc byte[64];
        new Span<byte>(attr, 64).Clear();
        *(uint*)attr = (uint)progFd;
        *(uint*)(attr + 4) = (uint)ifindex;
        *(uint*)(attr + 8) = attachType;
        *(uint*)(attr + 12) = flags;
        return (int)syscall(SysBpf, LinkCreateCmd, attr, 64);
    }

    /// <summary>Any other bpf(2) command with its attribute block.</summary>
    public static int Command(int cmd, byte* attr, int size) => (int)syscall(SysBpf, cmd, attr, size);

    [LibraryImport("libc", SetLastError = true)]
    private static partial long syscall(long number, long cmd, void* attr, long size);
}
