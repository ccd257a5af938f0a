using System.Globalization;

namespace FastTun.Gateway.Cli;

/// <summary>
/// The capabilities FastTun's port-owning commands need, read from the effective set in /proc/self/status, so that root and
/// an unprivileged service user with AmbientCapabilities (contrib/fasttun@.service) are treated alike.
/// </summary>
public static class CommandCapabilities
{
    public const int NetAdmin = 12;
    public const int NetRaw = 13;
    public const int SysNice = 23;
    public const int Bpf = 39;

    /// <summary>What a port-owning command (run, gen, sink) cannot work without: raw/XDP sockets and interface settings.</summary>
    public static readonly (int Bit, string Name)[] Required = [(NetRaw, "CAP_NET_RAW"), (NetAdmin, "CAP_NET_ADMIN")];

    /// <summary>The effective capability mask of this process (CapEff), or 0 when /proc cannot be read.</summary>
    public static ulong Effective()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("CapEff:", StringComparison.Ordinal))
                    return Parse(line["CapEff:".Length..]);
        }
        catch (IOException) { }
        return 0;
    }

    public static ulong Parse(string hex) =>
        ulong.TryParse(hex.Trim(), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong mask) ? mask : 0;

    /// <summary>Names of the capabilities in <paramref name="needed"/> that <paramref name="effective"/> lacks.</summary>
    public static List<string> Missing(ulong effective, IEnumerable<(int Bit, string Name)> needed) =>
        needed.Where(c => (effective & (1UL << c.Bit)) == 0).Select(c => c.Name).ToList();

    /// <summary>The one-line error for <paramref name="command"/> when required capabilities are missing, else null.</summary>
    public static string? Check(string command)
    {
        var missing = Missing(Effective(), Required);
        return missing.Count == 0 ? null
            : $"fasttun {command} needs {string.Join(" and ", missing)}: run it as root, or as the service user with the unit's AmbientCapabilities";
    }
}
