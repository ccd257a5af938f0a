using System.Text.Json;
using System.Text.Json.Nodes;
using FastTun.Gateway.Cli;

namespace FastTun.Gateway.Tests.Cli;

/// <summary>AnswerJson (the show commands' lean reader) against System.Text.Json as the oracle.</summary>
public sealed class AnswerJsonTests
{
    [Fact]
    public void Parse_RandomDocuments_SameTreeAsSystemTextJson()
    {
        var random = new Random(20261205);
        for (int i = 0; i < 2_000; i++)
        {
            var node = RandomNode(random, 0);
            foreach (bool indented in new[] { false, true })
            {
                string text = node?.ToJsonString(new JsonSerializerOptions { WriteIndented = indented }) ?? "null";
                AssertSame(JsonNode.Parse(text), AnswerJson.Parse(text), text);
            }
        }
    }

    [Fact]
    public void Parse_MutatedDocuments_AcceptsExactlyWhatSystemTextJsonAccepts()
    {
        var random = new Random(7);
        const string alphabet = "{}[]:,\"\\0123456789.eE+-tfnulrsa \n";
        for (int i = 0; i < 5_000; i++)
        {
            var chars = (RandomNode(random, 0)?.ToJsonString() ?? "null").ToCharArray();
            int edits = random.Next(1, 4);
            for (int e = 0; e < edits; e++) chars[random.Next(chars.Length)] = alphabet[random.Next(alphabet.Length)];
            string text = new(chars);
            bool oracle = true;
            try { using var _ = JsonDocument.Parse(text); }
            catch (JsonException) { oracle = false; }
            bool ours = true;
            try { AnswerJson.Parse(text); }
            catch (FormatException) { ours = false; }
            Assert.True(oracle == ours, $"System.Text.Json {(oracle ? "accepts" : "rejects")} {text}");
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("{\"a\":1,}")]
    [InlineData("[1,]")]
    [InlineData("01")]
    [InlineData("1.")]
    [InlineData("-")]
    [InlineData("\"abc")]
    [InlineData("\"\\x\"")]
    [InlineData("\"\\u12\"")]
    [InlineData("\"a\tb\"")]
    [InlineData("tru")]
    [InlineData("{} x")]
    [InlineData("{\"a\" 1}")]
    public void Parse_Malformed_FormatException(string text) =>
        Assert.Throws<FormatException>(() => AnswerJson.Parse(text));

    [Fact]
    public void Parse_DeeperThanMaxDepth_FormatException()
    {
        string ok = new string('[', AnswerJson.MaxDepth) + new string(']', AnswerJson.MaxDepth);
        Assert.NotNull(AnswerJson.Parse(ok));
        string deep = "[" + ok + "]";
        Assert.Throws<FormatException>(() => AnswerJson.Parse(deep));
    }

    [Fact]
    public void GetLong_NotAWholeNumber_FormatException()
    {
        var data = AnswerJson.Parse("{\"a\":1.5,\"b\":\"7\",\"c\":12}")!;
        Assert.Throws<FormatException>(() => data["a"]!.GetLong());
        Assert.Throws<FormatException>(() => data["b"]!.GetLong());
        Assert.Equal(12, data["c"]!.GetLong());
        Assert.Null(data["missing"]);
    }

    [Fact]
    public void ToJsonNode_KeepaliveObject_SameColumnsAsTheGatewaysJson()
    {
        var keepalive = new JsonObject
        {
            ["state"] = "down", ["reflected"] = 4, ["interval"] = 10, ["retries"] = 3, ["missed"] = 3, ["transitions"] = 3,
            ["lastChange"] = "2026-12-05T16:59:14.1234567+00:00", ["sent"] = 12, ["replies"] = 9, ["stray"] = 0,
            ["lastRttSeconds"] = 0.0015, ["avgRttSeconds"] = 0.002,
        };
        var viaText = FastTun.Gateway.Control.KeepaliveViews.Columns(AnswerJson.ToJsonNode(AnswerJson.Parse(keepalive.ToJsonString())));
        Assert.Equal(FastTun.Gateway.Control.KeepaliveViews.Columns(keepalive), viaText);
        Assert.Equal("1.5/2ms", viaText.Rtt);
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("quote \" backslash \\ tab \t newline \n nul \0")]
    [InlineData("tun*?é€😀")]
    public void Quote_AnyString_SystemTextJsonReadsItBack(string value) =>
        Assert.Equal(value, JsonNode.Parse(AnswerJson.Quote(value))!.GetValue<string>());

    private static void AssertSame(JsonNode? expected, AnswerNode? actual, string text)
    {
        if (expected is null)
        {
            Assert.Null(actual);
            return;
        }
        Assert.NotNull(actual);
        switch (expected)
        {
            case JsonObject o:
                Assert.Equal(AnswerNode.NodeKind.Object, actual.Kind);
                var members = actual.Members;
                Assert.Equal(o.Count, members.Count);
                int i = 0;
                foreach (var (name, value) in o)
                {
                    Assert.Equal(name, members[i].Key);
                    AssertSame(value, members[i].Value, text);
                    i++;
                }
                break;
            case JsonArray a:
                Assert.Equal(AnswerNode.NodeKind.Array, actual.Kind);
                Assert.Equal(a.Count, actual.Items.Count);
                for (int j = 0; j < a.Count; j++) AssertSame(a[j], actual.Items[j], text);
                break;
            default:
                var kind = expected.GetValueKind();
                Assert.Equal(kind switch
                {
                    JsonValueKind.String => AnswerNode.NodeKind.String,
                    JsonValueKind.Number => AnswerNode.NodeKind.Number,
                    JsonValueKind.True => AnswerNode.NodeKind.True,
                    _ => AnswerNode.NodeKind.False,
                }, actual.Kind);
                Assert.Equal(expected.ToString(), actual.ToString()); // string value, or the number's text
                if (kind == JsonValueKind.Number) Assert.Equal(expected.GetValue<double>(), actual.GetDouble());
                break;
        }
    }

    private static JsonNode? RandomNode(Random random, int depth)
    {
        switch (random.Next(depth < 4 ? 8 : 6))
        {
            case 0: return null;
            case 1: return JsonValue.Create(random.Next(2) == 0);
            case 2: return JsonValue.Create(random.NextInt64(long.MinValue, long.MaxValue) >> random.Next(64));
            case 3: return JsonValue.Create(Math.Round((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-8, 20)), random.Next(0, 12)));
            case 4: case 5: return JsonValue.Create(RandomString(random));
            case 6:
                var o = new JsonObject();
                for (int i = random.Next(5); i > 0; i--) o[RandomString(random) + i] = RandomNode(random, depth + 1);
                return o;
            default:
                var a = new JsonArray();
                for (int i = random.Next(5); i > 0; i--) a.Add(RandomNode(random, depth + 1));
                return a;
        }
    }

    private static string RandomString(Random random)
    {
        const string pool = "abcXYZ019 -_.:/\"\\\t\n\r\b\f\u0001\u001f<>&'+é€😀";
        var chars = new List<char>();
        for (int i = random.Next(8); i > 0; i--)
        {
            int at = random.Next(pool.Length);
            if (char.IsSurrogate(pool[at])) chars.AddRange("😀"); // whole pairs only
            else chars.Add(pool[at]);
        }
        return new string(chars.ToArray());
    }
}
