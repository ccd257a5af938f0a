using System.Text.Json;

namespace FastTun.Gateway.Capture;

/// <summary>
/// `fasttun diff A B`: reads both captures, compares them and prints every difference (text, or one JSON
/// object). Exit codes: 0 the captures match, 1 they differ, 2 a file could not be read.
/// </summary>
public static class CaptureDiffReport
{
    public const int ExitSame = 0, ExitDifferent = 1, ExitUnreadable = 2;

    public static int Run(string pathA, string pathB, IReadOnlyCollection<string> ignore, bool json, TextWriter output, TextWriter error)
    {
        CaptureDiffResult result;
        try
        {
            result = CaptureDiff.Compare(CaptureFile.Read(pathA), CaptureFile.Read(pathB), ignore);
        }
        catch (CaptureFormatException e)
        {
            error.WriteLine($"fasttun diff: {e.Message}");
            return ExitUnreadable;
        }
        if (json) WriteJson(result, pathA, pathB, ignore, output);
        else WriteText(result, pathA, pathB, output);
        return result.Same ? ExitSame : ExitDifferent;
    }

    public static void WriteText(CaptureDiffResult r, string a, string b, TextWriter output)
    {
        output.WriteLine($"A: {a} ({r.PacketsA} packets)");
        output.WriteLine($"B: {b} ({r.PacketsB} packets)");
        foreach (var d in r.Differences) output.WriteLine(d.ToString());
        output.WriteLine(r.Same
            ? $"same: {r.Compared} packets compared, no difference (timestamps and IP ID values ignored)"
            : $"different: {r.Differences.Count} difference(s); {r.PacketsDiffering} of {r.Compared} compared packets differ"
              + (r.PacketsA != r.PacketsB ? $"; {Math.Abs(r.PacketsA - r.PacketsB)} packet(s) on one side only" : ""));
    }

    public static void WriteJson(CaptureDiffResult r, string a, string b, IReadOnlyCollection<string> ignore, TextWriter output)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("a", a);
            w.WriteString("b", b);
            w.WriteNumber("packets_a", r.PacketsA);
            w.WriteNumber("packets_b", r.PacketsB);
            w.WriteNumber("compared", r.Compared);
            w.WriteNumber("packets_differing", r.PacketsDiffering);
            w.WriteBoolean("same", r.Same);
            w.WriteStartArray("ignored");
            foreach (string i in ignore) w.WriteStringValue(i);
            w.WriteEndArray();
            w.WriteStartArray("differences");
            foreach (var d in r.Differences)
            {
                w.WriteStartObject();
                if (d.Number is int n) w.WriteNumber("packet", n); else w.WriteNull("packet");
                w.WriteString("field", d.Field);
                w.WriteString("a", d.A);
                w.WriteString("b", d.B);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }
}
