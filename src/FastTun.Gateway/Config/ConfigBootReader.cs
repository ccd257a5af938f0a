using System.Text;
using Microsoft.Extensions.Logging;

namespace FastTun.Gateway.Config;

/// <summary>
/// Reads the brace format VyOS keeps on disk (<c>/config/config.boot</c>) by flattening it into the set lines
/// <c>show configuration commands</c> would print, and applying those with <see cref="ConfigParser"/>: the two
/// formats build the same model by construction, and every error names the config.boot line.
/// <code>
/// interfaces {                      a node: its words are prefixed to everything inside
///     ethernet eth1 {               a tag node: name and value
///         address 10.1.5.1/24       a leaf: set interfaces ethernet eth1 address 10.1.5.1/24
///         address 10.1.5.2/24       a multi-value leaf repeats
///     }
///     loopback lo {                 a node with nothing inside is itself a line: set interfaces loopback lo
///     }
/// }
/// /* comments */ span lines; # comments run to the end of the line; values may be "quoted"
/// </code>
/// The <c>/* Warning: ... */</c>, <c>/* === vyatta-config-version: ... === */</c> and <c>/* Release version ... */</c>
/// footer lines VyOS writes are comments.
/// </summary>
internal static class ConfigBootReader
{
    private sealed class Node(List<string> words, int line)
    {
        public List<string> Words { get; } = words;
        public int Line { get; } = line;
        public bool HasChildren;
    }

    public static ConfigDraft Parse(string text, string source, ILogger logger, List<ConfigDiagnostic> errors)
    {
        var parser = ConfigParser.Create(source, logger, errors);
        var stack = new List<Node>();
        var words = new List<string>();
        var pending = new List<string>();
        bool inComment = false;
        int commentLine = 0;
        int number = 0;
        using var reader = new StringReader(text);
        string? raw;
        while ((raw = reader.ReadLine()) != null)
        {
            number++;
            string line = StripBlockComments(raw, ref inComment, ref commentLine, number);
            if (!ConfigTokenizer.TryTokenize(line, words, out string? error))
            {
                parser.Error(number, $"{error}: {raw.Trim()}");
                continue;
            }
            pending.Clear();
            foreach (string w in words)
            {
                if (w == "{")
                {
                    if (pending.Count is 0 or > 2)
                    {
                        parser.Error(number, $"a node is a name or a name and a value before '{{': {raw.Trim()}");
                        pending.Clear();
                        stack.Add(new Node([], number)); // keep the braces balanced
                        continue;
                    }
                    if (stack.Count > 0) stack[^1].HasChildren = true;
                    stack.Add(new Node([.. pending], number));
                    pending.Clear();
                }
                else if (w == "}")
                {
                    if (pending.Count > 0) Leaf(parser, stack, pending, number);
                    pending.Clear();
                    if (stack.Count == 0)
                    {
                        parser.Error(number, $"'}}' closes nothing: {raw.Trim()}");
                        continue;
                    }
                    var node = stack[^1];
                    stack.RemoveAt(stack.Count - 1);
                    // An empty node is itself a statement (loopback lo { }, next-hop 1.1.1.2 { }).
                    if (!node.HasChildren && node.Words.Count > 0) Emit(parser, stack, node.Words, node.Line);
                }
                else pending.Add(w);
            }
            if (pending.Count > 0) Leaf(parser, stack, pending, number);
        }
        if (inComment) parser.Error(commentLine, "'/*' comment is not closed");
        foreach (var open in stack)
            parser.Error(open.Line, $"'{string.Join(' ', open.Words)} {{' is not closed");
        return parser.Draft;
    }

    private static void Leaf(ConfigParser parser, List<Node> stack, List<string> leaf, int line)
    {
        if (stack.Count > 0) stack[^1].HasChildren = true;
        Emit(parser, stack, leaf, line);
    }

    private static void Emit(ConfigParser parser, List<Node> stack, List<string> last, int line)
    {
        var words = new List<string> { "set" };
        foreach (var n in stack) words.AddRange(n.Words);
        words.AddRange(last);
        parser.Apply(words, line, string.Join(' ', words.Select(Quote)));
    }

    /// <summary>Quotes a value as <c>show configuration commands</c> would, so error messages read as set lines.</summary>
    private static string Quote(string word) =>
        word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '/' or '-' or '_' or ':') ? word : $"'{word}'";

    /// <summary>Removes <c>/* ... */</c> (possibly spanning lines) outside double quotes.</summary>
    private static string StripBlockComments(string line, ref bool inComment, ref int commentLine, int number)
    {
        if (!inComment && !line.Contains("/*", StringComparison.Ordinal)) return line;
        var kept = new StringBuilder(line.Length);
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            if (inComment)
            {
                if (line[i] == '*' && i + 1 < line.Length && line[i + 1] == '/') { inComment = false; i++; }
                continue;
            }
            char c = line[i];
            if (c == '"' && (i == 0 || line[i - 1] != '\\')) quoted = !quoted;
            if (!quoted && c == '/' && i + 1 < line.Length && line[i + 1] == '*')
            {
                inComment = true;
                commentLine = number;
                i++;
                kept.Append(' ');
                continue;
            }
            kept.Append(c);
        }
        return kept.ToString();
    }
}
