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
