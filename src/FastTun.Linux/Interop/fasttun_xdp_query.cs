using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

internal static partial class FastTunXdp
{
    /// <summary>Mode of FastTun's program on the interface (0 = none attached) and its id; -EEXIST with the
    /// id when a foreign program is attached.</summary>
    [LibraryImport(Name, EntryPoint = "fasttun_xdp_query")]
    public static unsafe partial int fasttun_xdp_query(int ifindex, int* modeOut, uint* progIdOut);
}
