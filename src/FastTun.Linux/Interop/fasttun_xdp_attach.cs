using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

internal static partial class FastTunXdp
{
    /// <summary>Loads the BPF object, sizes its XSKMAP to <paramref name="maxQueues"/>, replaces a stale FastTun
    /// program (or any program with <see cref="Force"/>) and attaches in the preferred mode.</summary>
    [LibraryImport(Name, EntryPoint = "fasttun_xdp_attach", StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int fasttun_xdp_attach(int ifindex, string bpfObjPath, int maxQueues, int flagsModePref,
        int* xskmapFdOut, int* attachedModeOut);
}
