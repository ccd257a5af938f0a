using System.Text.Json.Nodes;
using FastTun.Gateway.Cli;
using FastTun.Gateway.Control;
using FastTun.Packets.Tunnels;

namespace FastTun.Gateway.Tests.Control;

/// <summary><c>show tunnels</c> filters and pages (#15 item 5).</summary>
public class TunnelQueryTests
{
    [Theory]
    [InlineData("tun*", "tun12345", true)]
    [InlineData("tun1?", "tun12", true)]
    [InlineData("tun1?", "tun123", false)]
    [InlineData("*5", "tun9995", true)]
    [InlineData("tun1*0", "tun10", true)]
    [InlineData("tun1*0", "tun101", false)]
    [InlineData("tun7", "tun77", false)]
    [InlineData("*", "", true)]
    public void Glob_Patterns_MatchAsShell(string pattern, string text, bool expected) =>
        Assert.Equal(expected, TunnelQuery.Glob(pattern, text));

    [Fact]
    public void Glob_RandomPatterns_MatchRegexOracle()
    {
        var rng = new Random(15);
        const string alphabet = "tun0*?1";
        for (int i = 0; i < 5_000; i++)
        {
            string pattern = new(Enumerable.Range(0, rng.Next(0, 7)).Select(_ => alphabet[rng.Next(alphabet.Length)]).ToArray());
            string text = new(Enumerable.Range(0, rng.Next(0, 7)).Select(_ => "tun01"[rng.Next(5)]).ToArray());
            string regex = "^" + string.Concat(pattern.Select(c => c == '*' ? ".*" : c == '?' ? "." : System.Text.RegularExpressions.Regex.Escape(c.ToString()))) + "$";
            Assert.Equal(System.Text.RegularExpressions.Regex.IsMatch(text, regex, System.Text.RegularExpressions.RegexOptions.Singleline),
                TunnelQuery.Glob(pattern, text));
        }
    }

    [Fact]
    public void FromRequest_AllFields_Read()
    {
        var q = TunnelQuery.FromRequest(new JsonObject
        {
            ["name"] = "tun1*", ["remote"] = "10.0.0.1", ["local"] = "172.12.1.10", ["mode"] = "gre", ["offset"] = 100, ["limit"] = 50,
        });
        Assert.Equal(new TunnelQuery("tun1*", 0x0A000001, 0xAC0C010A, "gre", 100, 50), q);
        Assert.True(q.Matches(new TunnelSettings("tun17", TunnelMode.Gre, 0xAC0C010A, 0x0A000001)));
        Assert.False(q.Matches(new TunnelSettings("tun17", TunnelMode.Ipip, 0xAC0C010A, 0x0A000001)));
        Assert.False(q.Matches(new TunnelSettings("tun17", TunnelMode.Gre, 0xAC0C010A, 0x0A000002)));
        Assert.False(q.Matches(new TunnelSettings("tun27", TunnelMode.Gre, 0xAC0C010A, 0x0A000001)));
    }

    [Theory]
    [InlineData("remote", "10.0.0")]
    [InlineData("mode", "vxlan")]
    [InlineData("limit", "-1")]
    public void FromRequest_BadField_ArgumentExceptionNamesIt(string field, string value)
    {
        var e = Assert.Throws<ArgumentException>(() => TunnelQuery.FromRequest(new JsonObject { [field] = value }));
        Assert.Contains(field, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tunnels_PagedAnswer_FooterSaysWhichRows()
    {
        var row = new JsonObject
        {
            ["name"] = "tun100", ["mode"] = "gre", ["local"] = "1.1.1.1", ["remote"] = "2.2.2.2", ["addresses"] = new JsonArray(),
            ["mtu"] = 1476, ["ttl"] = "inherit", ["tos"] = "inherit", ["inputKey"] = 7, ["outputKey"] = 7, ["pmtuDiscovery"] = true,
            ["encapPackets"] = 0, ["encapBytes"] = 0, ["decapPackets"] = 0, ["decapBytes"] = 0,
            ["sequence"] = new JsonObject { ["received"] = 10, ["lost"] = 1, ["reordered"] = 0, ["duplicates"] = 0, ["outOfWindow"] = 0, ["resyncs"] = 0, ["lossRate"] = 1 / 11.0 },
        };
        var data = new JsonObject { ["tunnels"] = new JsonArray(row), ["total"] = 10_000, ["matched"] = 1_111, ["offset"] = 100, ["limit"] = 1 };
        var output = new StringWriter();
        ShowCommand.Tunnels(AnswerJson.Parse(data.ToJsonString())!, output);
        string text = output.ToString();
        Assert.Contains("tunnels 101-101 of 1111 matching (10000 in all)", text, StringComparison.Ordinal);
        Assert.Matches(@"tun100 .* 10 +1 +0 +0 +0 +0 +9\.0909%", text);
    }
}
