using System.Text.Json.Nodes;
using FastTun.Packets.Headers;

namespace FastTun.Gateway.Control;

/// <summary>
/// Which tunnels <c>show tunnels</c> lists: a name pattern (<c>*</c> and <c>?</c> as in a shell), an exact
/// remote or local address, a mode, then a page (<see cref="Offset"/>, <see cref="Limit"/>) of what matched, in
/// configuration order. A hub with 10,000 spokes answers one page without building 10,000 rows.
/// Control request fields: <c>name</c>, <c>remote</c>, <c>local</c>, <c>mode</c>, <c>offset</c>, <c>limit</c>.
/// </summary>
public sealed record TunnelQuery(string? Name = null, uint? Remote = null, uint? Local = null, string? Mode = null,
    int Offset = 0, int? Limit = null)
{
    public static readonly TunnelQuery All = new();

    /// <summary>Reads the optional fields of a control request; a bad value throws <see cref="ArgumentException"/>
    /// naming the field.</summary>
    public static TunnelQuery FromRequest(JsonObject request)
    {
        string? Text(string field) => request[field] switch
        {
            null => null,
            JsonValue v when v.TryGetValue(out string? s) => s,
            _ => throw new ArgumentException($"\"{field}\" must be a string"),
        };
        uint? Address(string field) => Text(field) is { } a
            ? Ipv4Address.TryParse(a, out uint x) ? x : throw new ArgumentException($"\"{field}\": '{a}' is not an IPv4 address")
            : null;
        int? Count(string field) => request[field] switch
        {
            null => null,
            JsonValue v when v.TryGetValue(out int n) && n >= 0 => n,
            JsonValue v when v.TryGetValue(out string? s) && int.TryParse(s, out int n) && n >= 0 => n,
            _ => throw new ArgumentException($"\"{field}\" must be a whole number ≥ 0"),
        };
        string? mode = Text("mode");
        if (mode is not (null or "ipip" or "gre")) throw new ArgumentException($"\"mode\" must be 'ipip' or 'gre', not '{mode}'");
        return new TunnelQuery(Text("name"), Address("remote"), Address("local"), mode, Count("offset") ?? 0, Count("limit"));
    }

    public bool Matches(Packets.Tunnels.TunnelSettings s) =>
        (Name is null || Glob(Name, s.Name)) && (Remote is null || Remote == s.Remote) && (Local is null || Local == s.Local)
        && (Mode is null || Mode == (s.Mode == Packets.Tunnels.TunnelMode.Gre ? "gre" : "ipip"));

    /// <summary>Shell-style match: <c>*</c> any run of characters, <c>?</c> one character, the rest literal.</summary>
    public static bool Glob(string pattern, string text)
    {
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == text[t])) { p++; t++; }
            else if (p < pattern.Length && pattern[p] == '*') { star = p++; mark = t; }
            else if (star >= 0) { p = star + 1; t = ++mark; }
            else return false;
        }
        while (p < pattern.Length && pattern[p] == '*') p++;
        return p == pattern.Length;
    }
}
