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
        var probe = Probe();
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
        var probe = Probe();
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

    /// <summary>The probe's "name kind value" lines (kind is size, offset or const), compiled and run by the
    /// shared <see cref="AbiProbe"/>.</summary>
    private static List<(string Key, string Kind, long Value)> Probe()
    {
        var lines = new List<(string, string, long)>();
        foreach (string line in AbiProbe.RunOutput("abi_xdp.c").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] w = line.Split(' ');
            lines.Add(w[0] == "const" ? (w[1], "const", long.Parse(w[2])) : (w[0], w[1], long.Parse(w[2])));
        }
        return lines;
    }
}
