using System.Text.Json.Nodes;
using FastTun.Gateway.Config;
using Microsoft.Extensions.Logging;

namespace FastTun.Gateway.Cli;

/// <summary>
/// <c>fasttun config show [--format set|boot|iproute2] [--config FILE [--input-format F]] [--control-socket PATH]</c>:
/// prints a configuration in any of the three forms (<see cref="ConfigPrinter"/>). With <c>--config</c> it reads
/// that file (format detected, or <c>--input-format</c>); without, it asks the running gateway for the
/// configuration it runs (the file plus <c>fasttun tunnel set</c> changes). A thin shell over Config/.
/// </summary>
public static class ConfigCommand
{
    public const string UsageText = "usage: fasttun config show [--format set|boot|iproute2] [--config FILE [--input-format set|boot|iproute2]] [--control-socket PATH]";

    public static int Run(ReadOnlySpan<string> args, TextWriter output, TextWriter error)
    {
        var parsed = ClientArgs.Parse(args, ["--format", "--config", "-c", "--input-format"], [], out string? problem);
        if (parsed is null || parsed.Words.Count != 1 || parsed.Words[0] != "show") return Usage(error, problem ?? "config what? (show)");
        var format = ConfigFormat.Set;
        if (parsed.Options.TryGetValue("--format", out string? f) && !ConfigFormats.TryParse(f!, out format))
            return Usage(error, $"unknown format '{f}' (set, boot or iproute2)");
        ConfigFormat? input = null;
        if (parsed.Options.TryGetValue("--input-format", out string? i))
        {
            if (!ConfigFormats.TryParse(i!, out var known)) return Usage(error, $"unknown input format '{i}' (set, boot or iproute2)");
            input = known;
        }
        string? path = parsed.Options.GetValueOrDefault("--config") ?? parsed.Options.GetValueOrDefault("-c");
        if (path is null)
        {
            if (input is not null) return Usage(error, "--input-format goes with --config FILE");
            try
            {
                using var client = ControlClient.Connect(parsed.SocketPath);
                var data = client.Request(new JsonObject { ["cmd"] = "config", ["format"] = ConfigFormats.Name(format) });
                output.Write(data?["text"]?.GetValue<string>() ?? throw new ControlClientException("the gateway answered without a configuration"));
                return CommandLine.ExitOk;
            }
            catch (ControlClientException e)
            {
                error.WriteLine($"fasttun: {e.Message}");
                return CommandLine.ExitError;
            }
        }
        if (!File.Exists(path)) return Usage(error, $"configuration file '{path}' not found");
        using var loggers = Logging.CreateFactory(LogLevel.Warning);
        try
        {
            var config = GatewayConfig.Load(path, loggers.CreateLogger("fasttun.config"), input);
            output.Write(ConfigPrinter.Print(config, format));
            return CommandLine.ExitOk;
        }
        catch (ConfigException e)
        {
            error.WriteLine($"fasttun: {path} is invalid:");
            foreach (var d in e.Errors) error.WriteLine(d.ToString());
            return CommandLine.ExitError;
        }
        catch (IOException e)
        {
            error.WriteLine($"fasttun: cannot read {path}: {e.Message}");
            return CommandLine.ExitError;
        }
    }

    private static int Usage(TextWriter error, string message)
    {
        error.WriteLine($"fasttun config: {message}");
        error.WriteLine(UsageText);
        return CommandLine.ExitUsage;
    }
}
