using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using FastTun.Gateway.Config;
using FastTun.Gateway.Control;
using FastTun.Traffic;
using Microsoft.Extensions.Logging;

namespace FastTun.Gateway.Cli;

/// <summary>A value parser in the Try pattern: false means the text is not a valid value.</summary>
public delegate bool TryParseValue<T>(string text, out T value);

/// <summary>
/// Options shared by several commands, and the factory every command uses for a validated option: the value is
/// parsed while System.CommandLine parses the line, so a bad value is a usage error (exit 2) reported before
/// any command body runs — before a socket is opened or an interface touched.
/// </summary>
public static class CliOptions
{
    /// <summary>An option whose value <paramref name="parse"/> must accept; the error says what was expected.</summary>
    public static Option<T> Validated<T>(string name, string description, string helpName, TryParseValue<T> parse, string expected,
        T defaultValue, params string[] aliases)
    {
        var option = new Option<T>(name, aliases) { Description = description, HelpName = helpName };
        option.DefaultValueFactory = _ => defaultValue;
        option.CustomParser = result =>
        {
            if (result.Tokens.Count == 0) return defaultValue;
            string text = result.Tokens[^1].Value;
            if (parse(text, out T value)) return value;
            result.AddError($"{name}: '{text}' is not {expected}");
            return defaultValue;
        };
        return option;
    }

    /// <summary>Tab completion offers exactly <paramref name="words"/> (instead of, say, an enum's C# names).</summary>
    public static T Completing<T>(T option, params string[] words) where T : Option
    {
        option.CompletionSources.Clear();
        option.CompletionSources.Add(words);
        return option;
    }

    /// <summary>An option without a default: null when absent.</summary>
    public static Option<T?> Optional<T>(string name, string description, string helpName, TryParseValue<T> parse, string expected,
        params string[] aliases) where T : struct
    {
        var option = new Option<T?>(name, aliases) { Description = description, HelpName = helpName };
        option.CustomParser = result =>
        {
            if (result.Tokens.Count == 0) return null;
            string text = result.Tokens[^1].Value;
            if (parse(text, out T value)) return value;
            result.AddError($"{name}: '{text}' is not {expected}");
            return null;
        };
        return option;
    }

    public static Option<int> Int(string name, string description, int min, int max, int defaultValue, params string[] aliases) =>
        Validated(name, description, "N", (string t, out int v) => TrafficArgs.TryInt(t, min, max, out v),
            $"a whole number from {min} to {max}", defaultValue, aliases);

    public static Option<double> Number(string name, string description, string helpName, double min, double max, bool minExclusive,
        double defaultValue) =>
        Validated(name, description, helpName, (string t, out double v) =>
                double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out v) && !double.IsNaN(v)
                && (minExclusive ? v > min : v >= min) && v <= max,
            $"a number {(minExclusive ? ">" : "≥")} {min.ToString(CultureInfo.InvariantCulture)} and ≤ {max.ToString(CultureInfo.InvariantCulture)}", defaultValue);

    public static Option<TimeSpan> Seconds(string name, string description, TimeSpan defaultValue) =>
        Validated(name, description, "SECONDS", TrafficArgs.TrySeconds, "a number of seconds > 0 and ≤ 86400", defaultValue);

    public static Option<string> ControlSocket()
    {
        var option = new Option<string>("--control-socket")
        {
            Description = "the gateway's control socket ('set fasttun control-socket PATH' on the gateway's side)",
            HelpName = "PATH",
            DefaultValueFactory = _ => ControlProtocol.DefaultSocketPath,
        };
        option.Validators.Add(CheckSocketPath);
        return option;
    }

    /// <summary>A Unix socket path must fit sockaddr_un.sun_path (107 bytes and a NUL) and not name a directory.</summary>
    public static void CheckSocketPath(OptionResult result)
    {
        if (result.Tokens.Count == 0) return;
        string path = result.Tokens[^1].Value;
        if (path.Length == 0) result.AddError($"{result.Option.Name}: empty path");
        else if (System.Text.Encoding.UTF8.GetByteCount(path) > 107)
            result.AddError($"{result.Option.Name}: '{path}' is longer than the 107 bytes a Unix socket path may have");
        else if (Directory.Exists(path)) result.AddError($"{result.Option.Name}: '{path}' is a directory");
    }

    public static Option<bool> Json(string what = "print JSON instead of text") => new("--json") { Description = what };

    public static Option<LogLevel?> LogLevelOption(string description = "trace, debug, information, warning, error, critical or none") =>
        Completing(Optional<LogLevel>("--log-level", description, "LEVEL", Logging.TryParseLevel, "a log level (trace, debug, information, warning, error, critical, none)"),
            "trace", "debug", "information", "warning", "error", "critical", "none");

    /// <summary><c>--format set|boot|iproute2</c>: the configuration file's form (default: detected from its content).</summary>
    public static Option<ConfigFormat?> ConfigFormatOption() =>
        Completing(Optional("--format", "the configuration's form: VyOS set lines, VyOS config.boot or iproute2 commands " +
            "(default: detected from the content)", "set|boot|iproute2", (string t, out ConfigFormat f) => ConfigFormats.TryParse(t, out f),
            "set, boot or iproute2"), "set", "boot", "iproute2");

    /// <summary><c>--config FILE</c>, required, checked to be an existing regular file at parse time.</summary>
    public static Option<string> ConfigFile()
    {
        var option = new Option<string>("--config", "-c") { Description = "configuration file (VyOS 'set' lines)", HelpName = "FILE", Required = true };
        option.Validators.Add(result =>
        {
            string? path = result.Tokens.Count > 0 ? result.Tokens[^1].Value : null;
            if (string.IsNullOrEmpty(path)) return;
            if (Directory.Exists(path)) result.AddError($"--config: '{path}' is a directory, not a configuration file");
            else if (!File.Exists(path)) result.AddError($"--config: configuration file '{path}' not found");
        });
        return option;
    }

    /// <summary>Words after a command (route add PREFIX via NEXTHOP …) checked by <paramref name="check"/>, which
    /// returns an error message or null.</summary>
    public static Argument<string[]> Words(string helpName, string description, Func<IReadOnlyList<string>, string?> check)
    {
        var argument = new Argument<string[]>(helpName) { Description = description, Arity = ArgumentArity.ZeroOrMore, HelpName = helpName };
        argument.Validators.Add(result =>
        {
            if (check(result.Tokens.Select(t => t.Value).ToList()) is { } problem) result.AddError(problem);
        });
        return argument;
    }

    /// <summary>An option's value in a command validator, or its default when the value itself was bad (that error is
    /// already reported; System.CommandLine throws if asked for it).</summary>
    public static T? ValueOrDefault<T>(CommandResult command, Option<T> option)
    {
        var result = command.GetResult(option);
        if (result is null) return default;
        return result.Errors.Any() ? default : command.GetValue(option);
    }

    public static TextWriter Out(this ParseResult result) => result.InvocationConfiguration.Output;
    public static TextWriter Err(this ParseResult result) => result.InvocationConfiguration.Error;

    /// <summary>The command path as typed help shows it: "show stats", "route".</summary>
    public static string CommandPath(this ParseResult result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result.CommandResult; r is CommandResult c && c.Parent is not null; r = r.Parent)
            names.Insert(0, c.Command.Name);
        return names.Count == 0 ? "" : string.Join(' ', names);
    }
}
