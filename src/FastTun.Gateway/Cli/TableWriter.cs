using System.Globalization;

namespace FastTun.Gateway.Cli;

/// <summary>Left-aligned text columns, two spaces apart; numbers right-aligned. For <c>fasttun show</c>.</summary>
public sealed class TableWriter
{
    private readonly string[] _headers;
    private readonly List<string[]> _rows = new();

    public TableWriter(params string[] headers) => _headers = headers;

    public void Add(params object?[] cells) =>
        _rows.Add(cells.Select(c => c switch
        {
            null => "-",
            double d => d.ToString("0.##", CultureInfo.InvariantCulture),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => c.ToString() ?? "-",
        }).ToArray());

    public int Count => _rows.Count;

    public void Write(TextWriter output)
    {
        int n = _headers.Length;
        var widths = new int[n];
        var numeric = new bool[n];
        for (int c = 0; c < n; c++)
        {
            widths[c] = _headers[c].Length;
            numeric[c] = _rows.Count > 0 && _rows.All(r => c < r.Length && IsNumber(r[c]));
            foreach (var r in _rows) if (c < r.Length) widths[c] = Math.Max(widths[c], r[c].Length);
        }
        WriteRow(output, _headers, widths, numeric); // headers of number columns align right too
        foreach (var r in _rows) WriteRow(output, r, widths, numeric);
    }

    private static bool IsNumber(string s) =>
        s == "-" || double.TryParse(s.TrimEnd('k', 'M', 'G', '%'), NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    private static void WriteRow(TextWriter output, string[] cells, int[] widths, bool[] right)
    {
        var line = new System.Text.StringBuilder();
        for (int c = 0; c < widths.Length; c++)
        {
            string cell = c < cells.Length ? cells[c] : "";
            bool last = c == widths.Length - 1;
            if (right[c]) Pad(line, widths[c] - cell.Length).Append(cell);
            else if (last) line.Append(cell);
            else Pad(line.Append(cell), widths[c] - cell.Length);
            if (!last) line.Append("  ");
        }
        output.WriteLine(line.ToString().TrimEnd());
    }

    private const string Spaces = "                                ";

    /// <summary>What PadLeft/PadRight add, copied from a literal: their fill loop is one of the few methods the
    /// ReadyToRun image leaves to the JIT, and a short command such as show stats need not wait for it.</summary>
    private static System.Text.StringBuilder Pad(System.Text.StringBuilder line, int count)
    {
        for (; count > 0; count -= Spaces.Length) line.Append(Spaces, 0, Math.Min(count, Spaces.Length));
        return line;
    }

    /// <summary>1234567 → "1.23M"; for rates.</summary>
    public static string Si(double value)
    {
        if (value >= 1e9) return (value / 1e9).ToString("0.00", CultureInfo.InvariantCulture) + "G";
        if (value >= 1e6) return (value / 1e6).ToString("0.00", CultureInfo.InvariantCulture) + "M";
        if (value >= 1e3) return (value / 1e3).ToString("0.00", CultureInfo.InvariantCulture) + "k";
        return value.ToString("0", CultureInfo.InvariantCulture);
    }
}
