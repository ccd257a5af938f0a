using FastTun.Gateway.Config;

namespace FastTun.Gateway.Tests;

public class ConfigTokenizerTests
{
    private static List<string> Words(string line)
    {
        var words = new List<string>();
        Assert.True(ConfigTokenizer.TryTokenize(line, words, out string? error), error);
        return words;
    }

    [Fact]
    public void TryTokenize_VyosQuotedValue_StripsQuotes() =>
        Assert.Equal(["set", "interfaces", "ethernet", "eth1", "address", "10.1.5.1/24"], Words("set interfaces ethernet eth1 address '10.1.5.1/24'"));

    [Fact]
    public void TryTokenize_EmptySingleQuotes_GivesEmptyWord() =>
        Assert.Equal(["plaintext-password", ""], Words("plaintext-password ''"));

    [Fact]
    public void TryTokenize_SpacesInsideQuotes_StayInOneWord() =>
        Assert.Equal(["description", "to server1  (LAN)"], Words("description 'to server1  (LAN)'"));

    [Fact]
    public void TryTokenize_DoubleQuotesWithEscapes_Unescapes() =>
        Assert.Equal(["description", "say \"hi\" \\ ok"], Words("description \"say \\\"hi\\\" \\\\ ok\""));

    [Fact]
    public void TryTokenize_AdjacentQuotedPieces_FormOneWord() =>
        Assert.Equal(["it's", "a$b"], Words("'it'\\''s' a'$'b"));

    [Fact]
    public void TryTokenize_HashAtWordStart_StartsComment() =>
        Assert.Equal(["set", "a"], Words("set a # comment 'unbalanced"));

    [Fact]
    public void TryTokenize_HashInsideWordOrQuotes_IsLiteral() =>
        Assert.Equal(["a#b", "#c"], Words("a#b '#c'"));

    [Fact]
    public void TryTokenize_BlankAndCommentLines_GiveNoWords()
    {
        Assert.Empty(Words(""));
        Assert.Empty(Words(" \t \r"));
        Assert.Empty(Words("   # set interfaces ethernet eth1"));
    }

    [Theory]
    [InlineData("set a 'open", "unterminated single quote")]
    [InlineData("set a \"open", "unterminated double quote")]
    [InlineData("set a \\", "backslash")]
    public void TryTokenize_Malformed_FailsWithMessage(string line, string expected)
    {
        var words = new List<string>();
        Assert.False(ConfigTokenizer.TryTokenize(line, words, out string? error));
        Assert.Contains(expected, error);
    }
}
