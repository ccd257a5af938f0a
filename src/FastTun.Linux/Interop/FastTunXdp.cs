using System.Reflection;
using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

/// <summary>
/// Imports of native/libfasttun_xdp.so, the XDP loader shim (setup only, never per packet). Each function
/// returns 0 or a negative errno. The library and the BPF object are looked up, in order: $FASTTUN_NATIVE_DIR,
/// the directory of the application (where a deployment copies them next to <c>fasttun</c>), and
/// native/build of the source tree found by walking up from the application directory to FastTun.sln
/// (tests and benchmarks run from bin/).
/// </summary>
internal static partial class FastTunXdp
{
    public const string Name = "fasttun_xdp";
    public const string LibraryFile = "libfasttun_xdp.so";
    public const string ProgramFile = "xdp_redirect.bpf.o";

    // flags_mode_pref values and the attached mode reported back.
    public const int ModeAuto = 0;
    public const int ModeNative = 1;
    public const int ModeGeneric = 2;
    /// <summary>Replace a program that is not FastTun's.</summary>
    public const int Force = 0x100;

    // errno the shim returns when a foreign program is attached (not in the shared Libc constants).
    public const int EEXIST = 17;
    // errno the shim returns when a bpf_link (a running owner) holds the interface's XDP program.
    public const int EBUSY = 16;

    static FastTunXdp()
    {
        NativeLibrary.SetDllImportResolver(typeof(FastTunXdp).Assembly, Resolve);
    }

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != Name) return 0;
        string? path = FindAsset(LibraryFile);
        return path != null && NativeLibrary.TryLoad(path, out nint handle) ? handle : 0;
    }

    /// <summary>Full path of a native asset (the shim or the BPF object), or null when none of the search
    /// directories holds it.</summary>
    public static string? FindAsset(string file)
    {
        foreach (string dir in SearchDirectories())
        {
            string candidate = Path.Combine(dir, file);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    public static IEnumerable<string> SearchDirectories()
    {
        string? env = Environment.GetEnvironmentVariable("FASTTUN_NATIVE_DIR");
        if (!string.IsNullOrEmpty(env)) yield return env;
        yield return AppContext.BaseDirectory;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "FastTun.sln")))
            {
                yield return Path.Combine(dir.FullName, "native", "build");
                yield break;
            }
        }
    }
}
