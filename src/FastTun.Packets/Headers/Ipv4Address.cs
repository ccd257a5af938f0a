using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace FastTun.Packets.Headers;

/// <summary>Dotted-quad text ↔ host-order <see cref="uint"/> (10.1.5.10 == 0x0A01050A). Control plane and
/// tests only: parsing and formatting allocate.</summary>
public static class Ipv4Address
{
    public static uint Parse(string text) =>
        TryParse(text, out uint value) ? value : throw new FormatException($"not an IPv4 address: '{text}'");

    /// <summary>Strict dotted quad: four decimal parts 0..255 of one to three digits, no sign, no whitespace, and no
    /// leading zero (inet_aton would read "010" as octal 8; refusing it avoids that ambiguity). The one parser
    /// for addresses in configuration, route files and the CLI.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out uint value)
    {
        value = 0;
        return text is not null && TryParse(text.AsSpan(), out value);
    }

    /// <inheritdoc cref="TryParse(string?, out uint)"/>
    public static bool TryParse(ReadOnlySpan<char> text, out uint value)
    {
        value = 0;
        for (int part = 0; part < 4; part++)
        {
            int dot = text.IndexOf('.');
            if ((part < 3) != (dot >= 0)) return false;
            ReadOnlySpan<char> digits = part < 3 ? text.Slice(0, dot) : text;
            if (digits.Length is 0 or > 3 || (digits.Length > 1 && digits[0] == '0')) return false;
            int octet = 0;
            foreach (char c in digits)
            {
                if (c is < '0' or > '9') return false;
                octet = octet * 10 + (c - '0');
            }
            if (octet > 255) return false;
            value = (value << 8) | (uint)octet;
            if (part < 3) text = text.Slice(dot + 1);
        }
        return true;
    }

    public static string Format(uint address) =>
        string.Create(CultureInfo.InvariantCulture, $"{address >> 24}.{(address >> 16) & 0xFF}.{(address >> 8) & 0xFF}.{address & 0xFF}");
}
