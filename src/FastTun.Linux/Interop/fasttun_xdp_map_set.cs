using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

internal static partial class FastTunXdp
{
    [LibraryImport(Name, EntryPoint = "fasttun_xdp_map_set")]
    public static partial int fasttun_xdp_map_set(int mapFd, int queue, int xskFd);
}
