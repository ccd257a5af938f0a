using FastTun.Gateway.Control;

namespace FastTun.Gateway.Cli;

/// <summary>The options every client command shares (<c>--control-socket PATH</c>, <c>--json</c>) plus its
/// positional words and its own <c>--name value</c> options.</summary>
public sealed class ClientArgs
{
    public string SocketPath { get; private set; } = ControlProtocol.DefaultSocketPath;
    public bool Json { get; private set; }
    public List<string> Words { get; } = new();
    public Dictionary<string, string?> Options { get; } = new(StringComparer.Ordinal);

    /// <summary>Parses <paramref name="args"/>; <paramref name="valued"/> lists the options that take a value,
    /// <paramref name="flags"/> those that do not. Returns null and sets <paramref name="error"/> on a bad word.</summary>
    public static ClientArgs? Parse(ReadOnlySpan<string> args, string[] valued, string[] flags, out string? error)
    {
        var result = new ClientArgs();
        error = null;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            if (a == "--control-socket")
            {
                if (i + 1 >= args.Length) { error = "--control-socket needs a PATH"; return null; }
                result.SocketPath = args[++i];
            }
            else if (a == "--json") result.Json = true;
            else if (valued.Contains(a))
            {
                if (i + 1 >= args.Length) { error = $"{a} needs a value"; return null; }
                result.Options[a] = args[++i];
            }
            else if (flags.Contains(a)) result.Options[a] = null;
            else if (a.StartsWith("--", StringComparison.Ordinal)) { error = $"unknown option {a}"; return null; }
            else result.Words.Add(a);
        }
        return result;
    }
}
