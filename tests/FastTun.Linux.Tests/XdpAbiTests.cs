using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastTun.Linux.Interop;

namespace FastTun.Linux.Tests;

/// <summary>
/// The AF_XDP structs and constants in Interop/ against the kernel headers: abi/abi_xdp.c is compiled with cc
/// and prints sizeof/offsetof/values, which must match Unsafe.SizeOf, Marshal.OffsetOf and the C# constants.
/// </summary>
public sealed class XdpAbiTests
{
    private static readonly Dictionary<string, Type> Structs = new()
    {
        ["xdp_umem_reg"] = typeof(xdp_umem_reg),
        ["xdp_ring_offset"] = typeof(xdp_ring_offset),
        ["xdp_mmap_offsets"] = typeof(xdp_mmap_offsets),
        ["sockaddr_xdp"] = typeof(sockaddr_xdp),
        ["xdp_desc"] = typeof(xdp_desc),
        ["xdp_statistics"] = typeof(xdp_statistics),
        ["xdp_options"] = typeof(xdp_options),
    };

    /// <summary>C# fields the installed headers may not have: tx_metadata_len (Linux 6.8+) is the tail padding
    /// of xdp_umem_reg in older headers and must sit exactly there.</summary>
    private static readonly Dictionary<string, int> FieldsNewerThanHeaders = new() { ["xdp_umem_reg.tx_metadata_len"] = 28 };

    [Fact]
    public void XdpStructs_SizesAndOffsets_MatchKernelHeaders()
    {
        var probe = AbiProbe.Run("abi_xdp.c");
        var seenFields = new HashSet<string>();
        int checkedLines = 0;
        foreach (var (key, kind, value) in probe)
        {
            if (kind == "size")
            {
                Assert.True(Structs.ContainsKey(key), $"probe prints {key}, which has no C# mirror in the test table");
                Assert.Equal((key, value), (key, SizeOf(Structs[key])));
                checkedLines++;
            }
            else if (kind == "offset")
            {
                string[] parts = key.Split('.');
                Assert.Equal((key, value), (key, (long)Marshal.OffsetOf(Structs[parts[0]], parts[1])));
                seenFields.Add(key);
                checkedLines++;
            }
        }
        Assert.Equal(Structs.Count, probe.Count(p => p.Kind == "size"));
        foreach (var (name, type) in Structs)
        {
            foreach (var field in type.GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance))
            {
                string key = $"{name}.{field.Name}";
                if (FieldsNewerThanHeaders.TryGetValue(key, out int offset))
                    Assert.Equal((key, (long)offset), (key, (long)Marshal.OffsetOf(type, field.Name)));
                else
                    Assert.True(seenFields.Contains(key), $"C# field {key} is not checked by abi_xdp.c");
            }
        }
        Assert.Equal(35, checkedLines);
    }

    [Fact]
    public void XdpConstants_Values_MatchKernelHeaders()
    {
        var probe = AbiProbe.Run("abi_xdp.c");
        int checkedConstants = 0;
        foreach (var (name, kind, value) in probe)
        {
            if (kind != "const") continue;
            FieldInfo? field = typeof(Libc).GetField(name, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static);
            Assert.True(field != null, $"constant {name} has no C# counterpart in Libc");
            Assert.Equal((name, value), (name, Convert.ToInt64(field!.GetValue(null))));
            checkedConstants++;
        }
        Assert.Equal(20, checkedConstants);
    }

    private static long SizeOf(Type t) =>
        (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(t).Invoke(null, null)!;

    /// <summary>Compiles a probe from tests/FastTun.Linux.Tests/abi with cc, runs it, parses
    /// "name kind value" lines. (A generic AbiProbe helper is being written for AF_PACKET; this private copy
    /// is meant to be merged into it.)</summary>
    private static class AbiProbe
    {
        public static List<(string Key, string Kind, long Value)> Run(string source)
        {
            string src = Path.Combine(RepoRoot(), "tests", "FastTun.Linux.Tests", "abi", source);
            string exe = Path.Combine(Path.GetTempPath(), $"fasttun-{Path.GetFileNameWithoutExtension(source)}-{Environment.ProcessId}");
            try
            {
                Exec("cc", $"-Wall -Werror -o {exe} {src}");
                var lines = new List<(string, string, long)>();
                foreach (string line in Exec(exe, "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    string[] w = line.Split(' ');
                    lines.Add(w[0] == "const" ? (w[1], "const", long.Parse(w[2])) : (w[0], w[1], long.Parse(w[2])));
                }
                return lines;
            }
            finally
            {
                File.Delete(exe);
            }
        }

        private static string Exec(string file, string args)
        {
            var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            string stdout = p.StandardOutput.ReadToEnd();
            string stderr = p.StandardError.ReadToEnd();
            Assert.True(p.WaitForExit(60_000), $"{file} timed out");
            Assert.True(p.ExitCode == 0, $"{file} {args} exited {p.ExitCode}: {stderr}");
            return stdout;
        }

        private static string RepoRoot()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "FastTun.sln"))) return dir.FullName;
            throw new DirectoryNotFoundException($"FastTun.sln not found above {AppContext.BaseDirectory}");
        }
    }
}
