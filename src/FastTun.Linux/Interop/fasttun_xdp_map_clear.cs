using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

internal static partial class FastTunXdp
{
    [LibraryImport(Name, EntryPoint = "fasttun_xdp_map_clear")]
    public static partial int fasttun_xdp_map_clear(int mapFd, int queue);
}
