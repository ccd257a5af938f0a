using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace FastTun.Gateway.Control;

/// <summary>
/// The control socket's protocol: one JSON object per line each way. A request names a command
/// (<c>{"cmd":"show","what":"routes"}</c>); the answer is <c>{"ok":true,"data":...}</c> or
/// <c>{"ok":false,"error":"..."}</c>. A connection may carry many requests in turn. The one exception is
/// <c>capture</c>: after its ok line the server streams pcapng bytes until the capture ends, then closes.
/// </summary>
public static class ControlProtocol
{
    public const string DefaultSocketPath = "/run/fasttun/fasttun.sock";
    /// <summary>Longest request line accepted; a longer one is an error and closes the connection.</summary>
    public const int MaxRequestBytes = 64 * 1024;

    private static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };

    public static JsonObject Ok(JsonNode? data = null) => new() { ["ok"] = true, ["data"] = data };
    public static JsonObject Error(string message) => new() { ["ok"] = false, ["error"] = message };

    /// <summary>The JSON text of <paramref name="node"/> on one line, with its newline, as UTF-8.</summary>
    public static byte[] Line(JsonNode node) => Encoding.UTF8.GetBytes(node.ToJsonString(Compact) + "\n");

    /// <summary>Reads one line (without its newline) of at most <see cref="MaxRequestBytes"/>; null at end of
    /// stream. Byte by byte: give it a buffered stream (both ends do), and read whatever follows the line (a
    /// capture's pcapng) from that same stream.</summary>
    public static string? ReadLine(Stream stream)
    {
        var buffer = new MemoryStream();
        Span<byte> one = stackalloc byte[1];
        while (true)
        {
            int n = stream.Read(one);
            if (n == 0) return buffer.Length == 0 ? null : Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
            if (one[0] == (byte)'\n') return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
            if (buffer.Length >= MaxRequestBytes) throw new InvalidDataException($"request longer than {MaxRequestBytes} bytes");
            buffer.WriteByte(one[0]);
        }
    }
}
