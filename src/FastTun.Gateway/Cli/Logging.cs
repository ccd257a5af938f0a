using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace FastTun.Gateway.Cli;

/// <summary>
/// The logger factory every sub-command uses: the console simple formatter, one line per message with a UTC
/// timestamp, all levels on stderr so that stdout carries only command output (check's report, stats).
/// The console provider writes on a background thread; dispose the factory before exiting to flush it.
/// </summary>
public static class Logging
{
    public static ILoggerFactory CreateFactory(LogLevel minimum = LogLevel.Information) =>
        LoggerFactory.Create(builder => builder
            .SetMinimumLevel(minimum)
            .AddSimpleConsole(options =>
            {
                options.SingleLine = true;
                options.UseUtcTimestamp = true;
                options.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
                options.IncludeScopes = false;
            })
            .AddConsole(options => options.LogToStandardErrorThreshold = LogLevel.Trace));

    /// <summary>Parses a --log-level value: trace, debug, information (or info), warning, error, critical, none.</summary>
    public static bool TryParseLevel(string text, out LogLevel level)
    {
        if (text.Equals("info", StringComparison.OrdinalIgnoreCase))
        {
            level = LogLevel.Information;
            return true;
        }
        return Enum.TryParse(text, ignoreCase: true, out level) && Enum.IsDefined(level) && !int.TryParse(text, out _);
    }
}
