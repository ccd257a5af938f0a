using System.Globalization;
using FastTun.Packets.Headers;

namespace FastTun.Traffic;

/// <summary>Value parsers shared by gen, sink and bench. Each returns false on bad input; the caller names the option.</summary>
public static class TrafficArgs
{
    public static bool TryMac(string text, out byte[] mac)
    {
        mac = new byte[6];
        string[] parts = text.Split(':');
        if (parts.Length != 6) return false;
        for (int i = 0; i < 6; i++)
            if (parts[i].Length is < 1 or > 2 || !byte.TryParse(parts[i], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out mac[i])) return false;
        return true;
    }

    public static string FormatMac(ReadOnlySpan<byte> mac) =>
        string.Create(CultureInfo.InvariantCulture, $"{mac[0]:x2}:{mac[1]:x2}:{mac[2]:x2}:{mac[3]:x2}:{mac[4]:x2}:{mac[5]:x2}");

    /// <summary>A.B.C.D or A.B.C.D:PORT.</summary>
    public static bool TryEndpoint(string text, out uint address, out ushort? port)
    {
        port = null;
        int colon = text.IndexOf(':');
        string host = colon < 0 ? text : text[..colon];
        if (!Ipv4Address.TryParse(host, out address)) return false;
        if (colon < 0) return true;
        if (!ushort.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out ushort p) || p == 0) return false;
        port = p;
        return true;
    }

    /// <summary>"max" (0) or a positive packet rate, with an optional k/M suffix.</summary>
    public static bool TryRate(string text, out double rate)
    {
        rate = 0;
        if (text == "max") return true;
        double scale = 1;
        if (text.EndsWith('k') || text.EndsWith('K')) { scale = 1e3; text = text[..^1]; }
        else if (text.EndsWith('M')) { scale = 1e6; text = text[..^1]; }
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || v <= 0 || double.IsInfinity(v)) return false;
        rate = v * scale;
        return true;
    }

    public static bool TryInt(string text, int min, int max, out int value) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value) && value >= min && value <= max;

    public static bool TrySeconds(string text, out TimeSpan duration)
    {
        duration = default;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) || s <= 0 || s > 86400) return false;
        duration = TimeSpan.FromSeconds(s);
        return true;
    }
}
