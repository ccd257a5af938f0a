using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastTun.Linux.Interop;

namespace FastTun.Linux.Tests;

/// <summary>The AF_PACKET interop structs and constants against the C compiler and kernel headers (abi_packet.c).</summary>
public class AbiPacketTests
{
    private static readonly Lazy<IReadOnlyList<KeyValuePair<string, long>>> s_probe = new(() => AbiProbe.Run("abi_packet.c"));

    public static TheoryData<string> Structs() => new()
    {
        "tpacket_req3", "tpacket_hdr_variant1", "tpacket3_hdr", "tpacket_bd_ts", "tpacket_hdr_v1", "tpacket_block_desc",
        "sockaddr_ll", "virtio_net_hdr", "tpacket_stats_v3", "packet_mreq", "ifreq", "iovec", "msghdr", "mmsghdr",
    };

    [Theory]
    [MemberData(nameof(Structs))]
    public void Struct_SizeAndEveryFieldOffset_MatchKernelAbi(string name)
    {
        Type t = StructType(name);
        var c = s_probe.Value.Where(kv => kv.Key.StartsWith(name + ".", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key[(name.Length + 1)..], kv => kv.Value);
        Assert.True(c.ContainsKey("size"), $"abi_packet.c prints no {name}.size");
        Assert.Equal(c["size"], SizeOf(t));

        var fields = t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
        Assert.NotEmpty(fields);
        foreach (var f in fields)
        {
            Assert.True(c.ContainsKey(f.Name), $"{name}.{f.Name} is not checked by abi_packet.c");
            Assert.True(c[f.Name] == (long)Marshal.OffsetOf(t, f.Name), $"{name}.{f.Name}: C offset {c[f.Name]}, C# {Marshal.OffsetOf(t, f.Name)}");
        }
        // And the other way: every field the C side knows is declared in C#.
        foreach (string cField in c.Keys.Where(k => k != "size"))
            Assert.Contains(fields, f => f.Name == cField);
    }

    [Fact]
    public void Constants_EveryProbedConstant_MatchesLibc()
    {
        var constants = s_probe.Value.Where(kv => !kv.Key.Contains('.')).ToList();
        Assert.True(constants.Count > 50, $"only {constants.Count} constants probed");
        foreach (var (name, value) in constants)
        {
            long actual = name == "IFNAMSIZ" ? ifreq.IFNAMSIZ : ConstantValue(name);
            Assert.True(actual == value, $"{name}: kernel {value}, C# {actual}");
        }
    }

    [Fact]
    public void Parse_MalformedLine_Throws()
    {
        Assert.Throws<FormatException>(() => AbiProbe.Parse("tpacket3_hdr.size 48\nbroken\n"));
        var ok = AbiProbe.Parse("a.size 1\n\nB 2\n");
        Assert.Equal(2, ok.Count);
        Assert.Equal(2, ok[1].Value);
    }

    private static Type StructType(string name) =>
        typeof(Libc).Assembly.GetType("FastTun.Linux.Interop." + name) ?? throw new InvalidOperationException($"no C# struct {name}");

    private static int SizeOf(Type t) =>
        (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(t).Invoke(null, null)!;

    private static long ConstantValue(string name)
    {
        var field = typeof(Libc).GetField(name, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
            ?? throw new InvalidOperationException($"Libc has no constant {name}");
        return Convert.ToInt64(field.GetValue(null));
    }
}
