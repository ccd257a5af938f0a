using System.CommandLine;
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
    public static Command Build()
    {
        var format = CliOptions.Completing(CliOptions.Validated("--format", "the form to print", "set|boot|iproute2",
            (string t, out ConfigFormat f) => ConfigFormats.TryParse(t, out f), "set, boot or iproute2", ConfigFormat.Set), "set", "boot", "iproute2");
        var file = new Option<string?>("--config", "-c") { Description = "print this file instead of the running configuration", HelpName = "FILE" };
        file.Validators.Add(r =>
        {
            string? path = r.Tokens.Count > 0 ? r.Tokens[^1].Value : null;
            if (path is not null && !File.Exists(path)) r.AddError($"--config: configuration file '{path}' not found");
        });
        var input = CliOptions.Completing(CliOptions.Optional("--input-format", "the file's form (default: detected from its content)",
            "set|boot|iproute2", (string t, out ConfigFormat f) => ConfigFormats.TryParse(t, out f), "set, boot or iproute2"), "set", "boot", "iproute2");
        var socket = CliOptions.ControlSocket();
        var show = new Command("show", "print the running (or a given) configuration as VyOS set lines, VyOS config.boot or " +
            "iproute2 commands; each loads back unchanged") { format, file, input, socket };
        show.Validators.Add(r =>
        {
            if (r.GetResult(input) is not null && r.GetResult(file) is null) r.AddError("--input-format goes with --config FILE");
        });
        show.SetAction(r => Show(r.GetValue(format), r.GetValue(file), r.GetValue(input), r.GetValue(socket)!, r.Out(), r.Err()));
        var config = new Command("config", "configuration in other forms") { show };
        config.SetAction(r =>
        {
            r.Err().WriteLine("fasttun config: config what? (show)");
            r.Err().WriteLine("see 'fasttun config --help'");
            return CommandLine.ExitUsage;
        });
        return config;
    }

    /// <summary>Parses <c>config</c>'s arguments (without the word config) and runs it; for tests.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error) =>
        CommandLine.Run(CommandLine.Single(Build()), ["config", .. args], output, error);

    public static int Show(ConfigFormat format, string? path, ConfigFormat? input, string socketPath, TextWriter output, TextWriter error)
    {
        if (path is null)
        {
            try
            {
                using var client = ControlClient.Connect(socketPath);
                var data = client.Request(new JsonObject { ["cmd"] = "config", ["format"] = ConfigFormats.Name(format) });
                output.Write(data?["text"]?.GetValue<string>() ?? throw new ControlClientException("the gateway answered without a configuration"));
                return CommandLine.ExitOk;
            }
            catch (ControlClientException e)
            {
                error.WriteLine($"fasttun config show: {e.Message}");
                return CommandLine.ExitError;
            }
        }
        using var loggers = Logging.CreateFactory(LogLevel.Warning);
        try
        {
            var config = GatewayConfig.Load(path, loggers.CreateLogger("fasttun.config"), input);
            output.Write(ConfigPrinter.Print(config, format));
            return CommandLine.ExitOk;
        }
        catch (ConfigException e)
        {
            error.WriteLine($"fasttun config show: {path} is invalid:");
            foreach (var d in e.Errors) error.WriteLine(d.ToString());
            return CommandLine.ExitError;
        }
        catch (IOException e)
        {
            error.WriteLine($"fasttun config show: cannot read {path}: {e.Message}");
            return CommandLine.ExitError;
        }
    }
}
