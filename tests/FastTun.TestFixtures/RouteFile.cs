using FastTun.Packets.Headers;
using System.Buffers.Binary;
using System.Globalization;

using FastTun.Packets.Routing;

namespace FastTun.TestFixtures;

/// <summary>A malformed route file line; <see cref="LineNumber"/> is 1-based.</summary>
public sealed class RouteFileException(string source, int lineNumber, string problem)
    : FormatException($"{source}:{lineNumber}: {problem}")
{
    public int LineNumber { get; } = lineNumber;
}

/// <summary>
/// Text route files and binary destination sets, so any LPM implementation can be fed identical input.
/// <code>
/// # comment (also after a route)
/// 10.1.5.0/24 3
/// 0.0.0.0/0   0
/// </code>
/// One route per line, <c>A.B.C.D/LEN NEXTHOP</c>, separated by spaces or tabs; NEXTHOP is a decimal
/// 0..<see cref="Lpm4Table.MaxNextHop"/>. A prefix with host bits set (10.1.5.1/24) is rejected, as
/// <c>ip route add</c> rejects it: a typo that silently widened into another network would route traffic
/// wrongly, so it is an error naming the line. Destination sets are raw little-endian uint32 host-order
/// addresses, 4 bytes each, no header.
/// </summary>
public static class RouteFile
{
    public static List<Route4> Read(string path)
    {
        using var reader = new StreamReader(path);
        return Read(reader, path);
    }

    public static List<Route4> Read(TextReader reader, string sourceName = "routes")
    {
        var routes = new List<Route4>();
        int lineNumber = 0;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            ReadOnlySpan<char> text = line;
            int hash = text.IndexOf('#');
            if (hash >= 0) text = text[..hash];
            text = text.Trim();
            if (text.IsEmpty) continue;
            routes.Add(ParseLine(text, sourceName, lineNumber));
        }
        return routes;
    }

    private static Route4 ParseLine(ReadOnlySpan<char> text, string source, int lineNumber)
    {
        int space = text.IndexOfAny(' ', '\t');
        if (space < 0) throw new RouteFileException(source, lineNumber, $"expected 'A.B.C.D/LEN NEXTHOP', got '{text}'");
        ReadOnlySpan<char> prefixText = text[..space];
        ReadOnlySpan<char> nextHopText = text[space..].Trim();
        int slash = prefixText.IndexOf('/');
        if (slash < 0) throw new RouteFileException(source, lineNumber, $"missing '/LEN' in '{prefixText}'");
        if (!Ipv4Address.TryParse(prefixText[..slash], out uint prefix))
            throw new RouteFileException(source, lineNumber, $"bad IPv4 address '{prefixText[..slash]}'");
        if (!int.TryParse(prefixText[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int length) || length > 32)
            throw new RouteFileException(source, lineNumber, $"bad prefix length '{prefixText[(slash + 1)..]}' (0..32)");
        if ((prefix & ~Route4.Mask(length)) != 0)
            throw new RouteFileException(source, lineNumber,
                $"{prefixText} has host bits set (did you mean {Ipv4Address.Format(prefix & Route4.Mask(length))}/{length}?)");
        if (!uint.TryParse(nextHopText, NumberStyles.None, CultureInfo.InvariantCulture, out uint nextHop) || nextHop > Lpm4Table.MaxNextHop)
            throw new RouteFileException(source, lineNumber, $"bad next hop '{nextHopText}' (0..{Lpm4Table.MaxNextHop})");
        return new Route4(prefix, length, nextHop);
    }

    public static void Write(string path, IEnumerable<Route4> routes, string? comment = null)
    {
        using var writer = new StreamWriter(path);
        Write(writer, routes, comment);
    }

    public static void Write(TextWriter writer, IEnumerable<Route4> routes, string? comment = null)
    {
        if (comment is not null)
            foreach (string line in comment.Split('\n')) writer.WriteLine($"# {line}");
        foreach (Route4 route in routes)
        {
            if (!route.IsValid) throw new ArgumentException($"invalid route {route}", nameof(routes));
            writer.WriteLine(route.ToString());
        }
    }

    public static uint[] ReadDestinations(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length % 4 != 0)
            throw new FormatException($"{path}: {bytes.Length} bytes is not a whole number of uint32 addresses");
        var addresses = new uint[bytes.Length / 4];
        for (int i = 0; i < addresses.Length; i++)
            addresses[i] = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4 * i));
        return addresses;
    }

    public static void WriteDestinations(string path, ReadOnlySpan<uint> addresses)
    {
        var bytes = new byte[addresses.Length * 4];
        for (int i = 0; i < addresses.Length; i++)
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4 * i), addresses[i]);
        File.WriteAllBytes(path, bytes);
    }
}
