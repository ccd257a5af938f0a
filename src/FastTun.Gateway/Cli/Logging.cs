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
        LoggerFactory.Create(builder =>
        {
            builder.SetMinimumLevel(minimum);
            // Under systemd stderr is a journal stream (JOURNAL_STREAM is set): the systemd formatter prefixes each
            // line with its syslog priority (<3> error, <4> warning, <6> info) for journald, without a timestamp.
            if (ToJournal) builder.AddSystemdConsole(options => options.IncludeScopes = false);
            else
                builder.AddSimpleConsole(options =>
                {
                    options.SingleLine = true;
                    options.UseUtcTimestamp = true;
                    options.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
                    options.IncludeScopes = false;
                });
            builder.AddConsole(options => options.LogToStandardErrorThreshold = LogLevel.Trace);
        });

    /// <summary>True when systemd connected stderr to the journal (systemd.exec(5): JOURNAL_STREAM).</summary>
    public static bool ToJournal => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("JOURNAL_STREAM"));

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
