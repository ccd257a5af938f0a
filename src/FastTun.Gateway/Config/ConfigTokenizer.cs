using System.Text;

namespace FastTun.Gateway.Config;

/// <summary>
/// Splits one configuration line into words the way VyOS prints and reads them, which is a subset of
/// the shell: words are separated by blanks; <c>'single quotes'</c> keep everything literally (VyOS's
/// <c>show configuration commands</c> quotes every value this way, and prints an empty value as
/// <c>''</c>); <c>"double quotes"</c> allow <c>\"</c> and <c>\\</c>; a backslash outside quotes escapes
/// the next character; quoted and unquoted pieces that touch form one word (<c>'it'\''s'</c>); a
/// <c>#</c> at the start of a word begins a comment to the end of the line.
/// </summary>
public static class ConfigTokenizer
{
    /// <summary>Returns false with a message when a quote is not closed or the line ends in a lone backslash.</summary>
    public static bool TryTokenize(string line, List<string> words, out string? error)
    {
        words.Clear();
        error = null;
        var word = new StringBuilder();
        bool inWord = false;
        int i = 0;
        while (i < line.Length)
        {
            char c = line[i];
            if (c is ' ' or '\t' or '\r')
            {
                if (inWord) { words.Add(word.ToString()); word.Clear(); inWord = false; }
                i++;
                continue;
            }
            if (c == '#' && !inWord) break;
            inWord = true;
            switch (c)
            {
                case '\'':
                {
                    int close = line.IndexOf('\'', i + 1);
                    if (close < 0) { error = "unterminated single quote"; return false; }
                    word.Append(line, i + 1, close - i - 1);
                    i = close + 1;
                    break;
                }
                case '"':
                {
                    i++;
                    while (true)
                    {
                        if (i >= line.Length) { error = "unterminated double quote"; return false; }
                        char d = line[i];
                        if (d == '"') { i++; break; }
                        if (d == '\\' && i + 1 < line.Length && line[i + 1] is '"' or '\\') { word.Append(line[i + 1]); i += 2; continue; }
                        word.Append(d);
                        i++;
                    }
                    break;
                }
                case '\\':
                    if (i + 1 >= line.Length) { error = "line ends in a backslash"; return false; }
                    word.Append(line[i + 1]);
                    i += 2;
                    break;
                default:
                    word.Append(c);
                    i++;
                    break;
            }
        }
        if (inWord) words.Add(word.ToString());
        return true;
    }
}
