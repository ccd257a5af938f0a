using FastTun.Gateway.Config;
using Microsoft.Extensions.Logging;

namespace FastTun.Gateway.Tests;

/// <summary>An ILogger (and provider) that keeps every message, for asserting on log lines.</summary>
internal sealed class CapturingLogger : ILogger, ILoggerProvider
{
    private readonly List<(LogLevel Level, string Message)> _entries = [];

    public IReadOnlyList<(LogLevel Level, string Message)> Entries
    {
        get { lock (_entries) return [.. _entries]; }
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_entries) _entries.Add((logLevel, formatter(state, exception)));
    }

    public ILogger CreateLogger(string categoryName) => this;
    public void Dispose() { }
}

internal static class ConfigTestSupport
{
    /// <summary>Six lines: eth1, eth2, and a GRE tun0 from gw1 to gw2. Appended lines start at line 7.</summary>
    public const string Gw1Gre = """
        set interfaces ethernet eth1 address '10.1.5.1/24'
        set interfaces ethernet eth2 address '172.12.1.10/24'
        set interfaces tunnel tun0 address '1.1.1.1/24'
        set interfaces tunnel tun0 encapsulation 'gre'
        set interfaces tunnel tun0 local-ip '172.12.1.10'
        set interfaces tunnel tun0 remote-ip '172.12.1.11'

        """;

    /// <summary>A second, IPIP tunnel tun1 from gw1 to gw2 (the keepalive tests' backup path), newline-terminated.</summary>
    public const string Gw1Tun1Ipip = """
        set interfaces tunnel tun1 address '1.1.2.1/24'
        set interfaces tunnel tun1 encapsulation 'ipip'
        set interfaces tunnel tun1 local-ip '172.12.1.10'
        set interfaces tunnel tun1 remote-ip '172.12.1.11'

        """;

    public static GatewayConfig Parse(string text, CapturingLogger? logger = null) =>
        GatewayConfig.Parse(text, "test.conf", logger ?? new CapturingLogger());

    public static IReadOnlyList<ConfigDiagnostic> Errors(string text)
    {
        var e = Assert.Throws<ConfigException>(() => Parse(text));
        Assert.NotEmpty(e.Errors);
        return e.Errors;
    }

    /// <summary>Asserts exactly one error, on <paramref name="line"/>, containing <paramref name="fragment"/>.</summary>
    public static ConfigDiagnostic SingleError(string text, int line, string fragment)
    {
        var errors = Errors(text);
        var error = Assert.Single(errors);
        Assert.Equal(line, error.Line);
        Assert.Equal("test.conf", error.Source);
        Assert.Contains(fragment, error.Message, StringComparison.Ordinal);
        Assert.StartsWith($"test.conf:{line}: ", error.ToString(), StringComparison.Ordinal);
        return error;
    }

    /// <summary>Asserts that two configurations are the same model (<see cref="GatewayConfig.SameModel"/>, which
    /// compares every field); when they are not, the failure shows both as set lines.</summary>
    public static void AssertSameModel(GatewayConfig expected, GatewayConfig actual)
    {
        if (expected.SameModel(actual)) return;
        Assert.Equal(ConfigPrinter.Print(expected, ConfigFormat.Set), ConfigPrinter.Print(actual, ConfigFormat.Set));
        Assert.Fail("the models differ in a field the set printer does not show: " + string.Join(" | ",
            $"interfaces {expected.Interfaces.SequenceEqual(actual.Interfaces)}", $"tunnels {expected.Tunnels.SequenceEqual(actual.Tunnels)}",
            $"routes {expected.StaticRoutes.SequenceEqual(actual.StaticRoutes)}", $"neighbors {expected.Neighbors.SequenceEqual(actual.Neighbors)}"));
    }

    public static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "FastTun.sln"))) return dir.FullName;
            throw new InvalidOperationException("FastTun.sln not found above " + AppContext.BaseDirectory);
        }
    }

    public static string ConfigFile(string name) => Path.Combine(RepoRoot, "configs", name);

    /// <summary>
    /// The seed documents' folder: shared/seeds in the repository's parent or any folder above it (/work/shared/seeds
    /// beside /work/main here), read straight from there when it exists. A checkout with no shared/ folder above it
    /// (a CI clone elsewhere) uses the verbatim copies in tests/FastTun.Gateway.Tests/Seeds, which
    /// <see cref="SharedSeedsDir"/>'s test keeps byte-identical to shared/seeds wherever both exist.
    /// </summary>
    public static string SeedsDir() => SharedSeedsDir() ?? RepoSeedsDir();

    /// <summary>shared/seeds beside or above the repository, or null.</summary>
    public static string? SharedSeedsDir()
    {
        for (var dir = new DirectoryInfo(RepoRoot); dir != null; dir = dir.Parent)
        {
            string seeds = Path.Combine(dir.FullName, "shared", "seeds");
            if (Directory.Exists(seeds) && Directory.GetFiles(seeds, "00*_*.txt").Length > 0) return seeds;
        }
        return null;
    }

    /// <summary>The repository's verbatim copy of the seed documents.</summary>
    public static string RepoSeedsDir()
    {
        string seeds = Path.Combine(RepoRoot, "tests", "FastTun.Gateway.Tests", "Seeds");
        if (Directory.GetFiles(seeds, "00*_*.txt").Length == 0)
            throw new DirectoryNotFoundException($"the seed documents (000_*.txt ... 004_*.txt) are missing from {seeds}");
        return seeds;
    }

    /// <summary>The one seed document whose name starts with <paramref name="number"/> (e.g. "004").</summary>
    public static string SeedFile(string number)
    {
        var found = Directory.GetFiles(SeedsDir(), number + "_*.txt");
        if (found.Length != 1) throw new FileNotFoundException($"expected one {number}_*.txt in {SeedsDir()}, found {found.Length}");
        return found[0];
    }

    /// <summary>The seed article (shared/seeds/004_*.txt) when a shared/ folder sits beside the repository or above it.</summary>
    public static string? SeedArticle()
    {
        for (var dir = new DirectoryInfo(RepoRoot).Parent; dir != null; dir = dir.Parent)
        {
            string seeds = Path.Combine(dir.FullName, "shared", "seeds");
            if (!Directory.Exists(seeds)) continue;
            var found = Directory.GetFiles(seeds, "004_*.txt");
            if (found.Length == 1) return found[0];
        }
        return null;
    }
}
