using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

internal static partial class FastTunXdp
{
    /// <summary>Loads the BPF object, sizes its XSKMAP to <paramref name="maxQueues"/>, replaces a stale
    /// netlink-attached FastTun program (or any netlink program with <see cref="Force"/>) and attaches through a
    /// bpf_link in the preferred mode. Closing <paramref name="linkFdOut"/> detaches; -EBUSY when a link holds
    /// the interface already.</summary>
    [LibraryImport(Name, EntryPoint = "fasttun_xdp_attach", StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int fasttun_xdp_attach(int ifindex, string bpfObjPath, int maxQueues, int flagsModePref,
        int* xskmapFdOut, int* attachedModeOut, int* linkFdOut);
}
