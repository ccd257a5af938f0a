using System.Globalization;
using System.Text;

namespace FastTun.Gateway.Cli;

/// <summary>
/// A read-only JSON value for the CLI's text views (<c>fasttun show ...</c>): what the gateway answered, parsed by
/// <see cref="AnswerJson.Parse"/>. Why not System.Text.Json here: its first use in a process (reader or writer
/// set-up, SearchValues and generic instantiations that ReadyToRun cannot precompile) costs about 10 ms of CPU,
/// a quarter of the 40 ms budget of <c>fasttun show stats</c>. <c>--json</c> output and every other command keep
/// System.Text.Json, which is also the oracle of this reader's tests. A JSON null is a C# null, as in JsonNode.
/// </summary>
public sealed class AnswerNode
{
    public enum NodeKind { Object, Array, String, Number, True, False }

    private static readonly List<AnswerNode?> NoItems = [];

    private readonly string? _text;                              // a string's value or a number's JSON text
    private readonly List<AnswerNode?>? _items;                  // array items
    private readonly List<KeyValuePair<string, AnswerNode?>>? _members; // object members in document order

    internal AnswerNode(NodeKind kind, string? text = null, List<AnswerNode?>? items = null,
        List<KeyValuePair<string, AnswerNode?>>? members = null)
    {
        Kind = kind;
        _text = text;
        _items = items;
        _members = members;
    }

    public NodeKind Kind { get; }

    /// <summary>An object's member (the last one of that name), or null when absent, null, or this is no object.</summary>
    public AnswerNode? this[string name]
    {
        get
        {
            if (_members is null) return null;
            for (int i = _members.Count - 1; i >= 0; i--)
                if (_members[i].Key == name) return _members[i].Value;
            return null;
        }
    }

    /// <summary>An array's items (empty for anything else).</summary>
    public IReadOnlyList<AnswerNode?> Items => _items ?? NoItems;

    /// <summary>An object's members in document order (empty for anything else).</summary>
    public IReadOnlyList<KeyValuePair<string, AnswerNode?>> Members => _members ?? [];

    public long GetLong() => Kind == NodeKind.Number && long.TryParse(_text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v)
        ? v : throw new FormatException($"not a whole number: {this}");

    public double GetDouble() => Kind == NodeKind.Number ? double.Parse(_text!, NumberStyles.Float, CultureInfo.InvariantCulture)
        : throw new FormatException($"not a number: {this}");

    public bool GetBool() => Kind switch
    {
        NodeKind.True => true,
        NodeKind.False => false,
        _ => throw new FormatException($"not true or false: {this}"),
    };

    /// <summary>As JsonNode.ToString() prints a value: a string without quotes, a number as the gateway wrote it.</summary>
    public override string ToString() => Kind switch
    {
        NodeKind.String or NodeKind.Number => _text!,
        NodeKind.True => "true",
        NodeKind.False => "false",
        NodeKind.Array => $"[{_items!.Count} items]",
        _ => $"{{{_members!.Count} members}}",
    };
}

/// <summary>Parses RFC 8259 JSON text into <see cref="AnswerNode"/>s; strict (no comments, no trailing commas),
/// nesting at most <see cref="MaxDepth"/>. Malformed text throws <see cref="FormatException"/> naming the offset.</summary>
public static class AnswerJson
{
    public const int MaxDepth = 64;

    public static AnswerNode? Parse(string text)
    {
        int at = 0;
        var value = Value(text, ref at, 0);
        SkipSpace(text, ref at);
        if (at != text.Length) throw Error(text, at, "text after the value");
        return value;
    }

    private static AnswerNode? Value(string s, ref int at, int depth)
    {
        SkipSpace(s, ref at);
        if (at >= s.Length) throw Error(s, at, "a value expected");
        switch (s[at])
        {
            case '{': return Object(s, ref at, depth + 1);
            case '[': return Array(s, ref at, depth + 1);
            case '"': return new AnswerNode(AnswerNode.NodeKind.String, String(s, ref at));
            case 't': Literal(s, ref at, "true"); return new AnswerNode(AnswerNode.NodeKind.True);
            case 'f': Literal(s, ref at, "false"); return new AnswerNode(AnswerNode.NodeKind.False);
            case 'n': Literal(s, ref at, "null"); return null;
            default: return new AnswerNode(AnswerNode.NodeKind.Number, Number(s, ref at));
        }
    }

    private static AnswerNode Object(string s, ref int at, int depth)
    {
        if (depth > MaxDepth) throw Error(s, at, $"nested deeper than {MaxDepth}");
        var members = new List<KeyValuePair<string, AnswerNode?>>();
        at++; // '{'
        SkipSpace(s, ref at);
        if (at < s.Length && s[at] == '}')
        {
            at++;
            return new AnswerNode(AnswerNode.NodeKind.Object, members: members);
        }
        while (true)
        {
            SkipSpace(s, ref at);
            if (at >= s.Length || s[at] != '"') throw Error(s, at, "a member name expected");
            string name = String(s, ref at);
            SkipSpace(s, ref at);
            if (at >= s.Length || s[at] != ':') throw Error(s, at, "':' expected");
            at++;
            members.Add(new(name, Value(s, ref at, depth)));
            SkipSpace(s, ref at);
            if (at < s.Length && s[at] == ',') { at++; continue; }
            if (at < s.Length && s[at] == '}') { at++; return new AnswerNode(AnswerNode.NodeKind.Object, members: members); }
            throw Error(s, at, "',' or '}' expected");
        }
    }

    private static AnswerNode Array(string s, ref int at, int depth)
    {
        if (depth > MaxDepth) throw Error(s, at, $"nested deeper than {MaxDepth}");
        var items = new List<AnswerNode?>();
        at++; // '['
        SkipSpace(s, ref at);
        if (at < s.Length && s[at] == ']')
        {
            at++;
            return new AnswerNode(AnswerNode.NodeKind.Array, items: items);
        }
        while (true)
        {
            items.Add(Value(s, ref at, depth));
            SkipSpace(s, ref at);
            if (at < s.Length && s[at] == ',') { at++; continue; }
            if (at < s.Length && s[at] == ']') { at++; return new AnswerNode(AnswerNode.NodeKind.Array, items: items); }
            throw Error(s, at, "',' or ']' expected");
        }
    }

    private static string String(string s, ref int at)
    {
        at++; // opening quote
        int start = at;
        while (at < s.Length && s[at] != '"' && s[at] != '\\' && s[at] >= ' ') at++;
        if (at < s.Length && s[at] == '"') return s[start..at++]; // no escapes: the common case
        var text = new StringBuilder(s, start, at - start, at - start + 16);
        while (true)
        {
            if (at >= s.Length) throw Error(s, at, "unterminated string");
            char c = s[at++];
            if (c == '"') return text.ToString();
            if (c < ' ') throw Error(s, at - 1, "control character in a string");
            if (c != '\\') { text.Append(c); continue; }
            if (at >= s.Length) throw Error(s, at, "unterminated escape");
            switch (s[at++])
            {
                case '"': text.Append('"'); break;
                case '\\': text.Append('\\'); break;
                case '/': text.Append('/'); break;
                case 'b': text.Append('\b'); break;
                case 'f': text.Append('\f'); break;
                case 'n': text.Append('\n'); break;
                case 'r': text.Append('\r'); break;
                case 't': text.Append('\t'); break;
                case 'u':
                    if (at + 4 > s.Length || !ushort.TryParse(s.AsSpan(at, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ushort u))
                        throw Error(s, at, "\\u needs four hex digits");
                    text.Append((char)u); // surrogate halves arrive as two escapes and pair up in the string
                    at += 4;
                    break;
                default: throw Error(s, at - 1, "unknown escape");
            }
        }
    }

    /// <summary>A number's text, checked against the JSON grammar: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?</summary>
    private static string Number(string s, ref int at)
    {
        int start = at;
        if (at < s.Length && s[at] == '-') at++;
        if (at < s.Length && s[at] == '0') at++;
        else if (!Digits(s, ref at)) throw Error(s, start, "a value expected");
        if (at < s.Length && s[at] == '.')
        {
            at++;
            if (!Digits(s, ref at)) throw Error(s, at, "digits expected after '.'");
        }
        if (at < s.Length && (s[at] == 'e' || s[at] == 'E'))
        {
            at++;
            if (at < s.Length && (s[at] == '+' || s[at] == '-')) at++;
            if (!Digits(s, ref at)) throw Error(s, at, "digits expected in the exponent");
        }
        return s[start..at];
    }

    private static bool Digits(string s, ref int at)
    {
        int start = at;
        while (at < s.Length && char.IsAsciiDigit(s[at])) at++;
        return at > start;
    }

    private static void Literal(string s, ref int at, string word)
    {
        if (string.CompareOrdinal(s, at, word, 0, word.Length) != 0) throw Error(s, at, "a value expected");
        at += word.Length;
    }

    private static void SkipSpace(string s, ref int at)
    {
        while (at < s.Length && s[at] is ' ' or '\t' or '\n' or '\r') at++;
    }

    private static FormatException Error(string s, int at, string what) => new($"JSON at offset {at} of {s.Length}: {what}");

    /// <summary>The same value as a System.Text.Json node (for code written against JsonNode): numbers become long
    /// values when they are whole, double otherwise.</summary>
    public static System.Text.Json.Nodes.JsonNode? ToJsonNode(AnswerNode? node)
    {
        switch (node?.Kind)
        {
            case null: return null;
            case AnswerNode.NodeKind.Object:
                var o = new System.Text.Json.Nodes.JsonObject();
                foreach (var (name, value) in node.Members) o[name] = ToJsonNode(value);
                return o;
            case AnswerNode.NodeKind.Array:
                var a = new System.Text.Json.Nodes.JsonArray();
                foreach (var item in node.Items) a.Add(ToJsonNode(item));
                return a;
            case AnswerNode.NodeKind.String: return System.Text.Json.Nodes.JsonValue.Create(node.ToString());
            case AnswerNode.NodeKind.Number:
                return long.TryParse(node.ToString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long whole)
                    ? System.Text.Json.Nodes.JsonValue.Create(whole) : System.Text.Json.Nodes.JsonValue.Create(node.GetDouble());
            default: return System.Text.Json.Nodes.JsonValue.Create(node.Kind == AnswerNode.NodeKind.True);
        }
    }

    /// <summary>A JSON string literal (quotes included) for <paramref name="value"/>: escapes quote, backslash and
    /// control characters; everything else passes as is (JSON text is UTF-8).</summary>
    public static string Quote(string value)
    {
        var text = new StringBuilder(value.Length + 2).Append('"');
        foreach (char c in value)
        {
            if (c == '"' || c == '\\') text.Append('\\').Append(c);
            else if (c < ' ') text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            else text.Append(c);
        }
        return text.Append('"').ToString();
    }
}
