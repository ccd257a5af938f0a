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
    public void Struct_SizeAndEveryFieldOffset_MatchKernelAbi(string name) =>
        AbiProbe.AssertStructMatches(s_probe.Value, StructType(name));

    [Fact]
    public void Constants_EveryProbedConstant_MatchesLibc()
    {
        Assert.True(s_probe.Value.Count(kv => !kv.Key.Contains('.')) > 50, "too few constants probed");
        AbiProbe.AssertConstantsMatch(s_probe.Value, typeof(Libc), "IFNAMSIZ");
        Assert.Equal(ifreq.IFNAMSIZ, s_probe.Value.Single(kv => kv.Key == "IFNAMSIZ").Value);
    }

    [Fact]
    public void AssertStructMatches_WrongOffset_Fails()
    {
        // The harness must be able to fail: a probe claiming tp_mac sits at 26 is rejected.
        var lying = s_probe.Value.Select(kv => kv.Key == "tpacket3_hdr.tp_mac" ? new KeyValuePair<string, long>(kv.Key, 26) : kv).ToList();
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => AbiProbe.AssertStructMatches(lying, typeof(tpacket3_hdr)));
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
}
