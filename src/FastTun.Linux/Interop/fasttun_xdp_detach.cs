using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

internal static partial class FastTunXdp
{
    /// <summary>Detaches FastTun's program from the interface; leaves a foreign one alone (-EEXIST).</summary>
    [LibraryImport(Name, EntryPoint = "fasttun_xdp_detach")]
    public static partial int fasttun_xdp_detach(int ifindex);
}
