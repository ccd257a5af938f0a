using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace FastTun.Packets.Headers;

/// <summary>Dotted-quad text ↔ host-order <see cref="uint"/> (10.1.5.10 == 0x0A01050A). Control plane and
/// tests only: parsing and formatting allocate.</summary>
public static class Ipv4Address
{
    public static uint Parse(string text) =>
        TryParse(text, out uint value) ? value : throw new FormatException($"not an IPv4 address: '{text}'");

    /// <summary>Strict dotted quad: four decimal parts 0..255, no leading '+', no whitespace, at most three digits.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out uint value)
    {
        value = 0;
        if (text is null) return false;
        ReadOnlySpan<char> s = text;
        for (int part = 0; part < 4; part++)
        {
            int dot = s.IndexOf('.');
            ReadOnlySpan<char> digits = part < 3 ? (dot < 0 ? default : s.Slice(0, dot)) : s;
            if (part < 3 && dot < 0) return false;
            if (digits.Length is 0 or > 3) return false;
            foreach (char c in digits) if (c is < '0' or > '9') return false;
            int octet = int.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);
            if (octet > 255) return false;
            value = (value << 8) | (uint)octet;
            if (part < 3) s = s.Slice(dot + 1);
        }
        return true;
    }

    public static string Format(uint address) =>
        string.Create(CultureInfo.InvariantCulture, $"{address >> 24}.{(address >> 16) & 0xFF}.{(address >> 8) & 0xFF}.{address & 0xFF}");
}
