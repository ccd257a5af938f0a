using FastTun.Packets.Headers;
using System.Globalization;

namespace FastTun.Gateway.Config;

/// <summary>
/// Dotted-quad IPv4 parsing and formatting for the configuration, in host byte order (10.1.5.1 = 0x0A010501).
/// Strict on purpose: exactly four decimal octets, no leading zeros beyond "0" (inet_aton would read
/// "010" as octal, which nobody means in a router configuration), no whitespace.
/// </summary>
public static class ConfigIpv4
{
    /// <summary>Parses "A.B.C.D/L" with 0 ≤ L ≤ 32. Host bits are kept: an interface address keeps them.</summary>
    public static bool TryParsePrefix(string text, out uint address, out int length)
    {
        address = 0;
        length = 0;
        int slash = text.IndexOf('/');
        if (slash < 0) return false;
        if (!Ipv4Address.TryParse(text[..slash], out address)) return false;
        string len = text[(slash + 1)..];
        if (len.Length is 0 or > 2 || (len.Length == 2 && len[0] == '0')) return false;
        if (!int.TryParse(len, NumberStyles.None, CultureInfo.InvariantCulture, out length)) return false;
        return length <= 32;
    }

    public static uint Mask(int length) => length == 0 ? 0u : uint.MaxValue << (32 - length);

    public static bool Contains(uint network, int length, uint address) => ((network ^ address) & Mask(length)) == 0;

    public static string FormatPrefix(uint address, int length) =>
        string.Create(CultureInfo.InvariantCulture, $"{Ipv4Address.Format(address)}/{length}");
}
