using System.CommandLine;
using FastTun.Gateway.Config;
using FastTun.Gateway.Control;
using FastTun.Gateway.Dataplane;
using FastTun.Linux.Interop;
using FastTun.Linux.Netlink;
using Microsoft.Extensions.Logging;

namespace FastTun.Gateway.Cli;

/// <summary>
/// <c>fasttun run --config FILE</c>: owns the configured interfaces and forwards until SIGINT or SIGTERM.
/// SIGHUP reloads the configuration (routes, tunnels, addresses) atomically; an invalid file is refused and
/// the running configuration stays. Exit 0 after a clean stop, 1 on a start-up error or a worker fault, 2 on
/// a usage error.
/// </summary>
public static class RunCommand
{
    public static Command Build()
    {
        var config = CliOptions.ConfigFile();
        var controlSocket = new Option<string?>("--control-socket")
        {
            Description = "control socket path (default: the configuration's, else /run/fasttun/fasttun.sock)",
            HelpName = "PATH",
        };
        controlSocket.Validators.Add(CliOptions.CheckSocketPath);
        var metrics = new Option<System.Net.IPEndPoint?>("--metrics")
        {
            Description = "serve Prometheus text on GET /metrics at ADDRESS:PORT (e.g. 127.0.0.1:9464)",
            HelpName = "ADDRESS:PORT",
            CustomParser = r =>
            {
                string text = r.Tokens[^1].Value;
                if (MetricsServer.TryParseEndpoint(text, out var ep)) return ep;
                r.AddError($"--metrics: '{text}' is not ADDRESS:PORT (e.g. 127.0.0.1:9464)");
                return null;
            },
        };
        var level = CliOptions.LogLevelOption();
        var format = CliOptions.ConfigFormatOption();
        var command = new Command("run", "own the configured interfaces and forward; SIGHUP reloads, SIGINT/SIGTERM stop " +
            "cleanly (XDP programs detached); under systemd (Type=notify) it reports READY, STOPPING and watchdog pings")
        {
            config, format, controlSocket, metrics, level,
        };
        command.SetAction(r => Run(r.GetValue(config)!, r.GetValue(format), r.GetValue(controlSocket), r.GetValue(metrics),
            r.GetValue(level) ?? LogLevel.Information));
        return command;
    }

    public static int Run(string path, ConfigFormat? format, string? controlSocket, System.Net.IPEndPoint? metrics, LogLevel level)
    {
        using var loggers = Logging.CreateFactory(level);
        var logger = loggers.CreateLogger("fasttun");
        // The signals are taken before anything starts: a SIGINT or SIGTERM during startup then stops the gateway once
        // it runs (XDP programs detached), where the default action would kill it half set up, and a SIGHUP from a
        // service manager that saw READY cannot kill it. Each handler records its request and wakes the loop below;
        // stopping and reloading are separate requests, so neither hides the other.
        using var wake = new ManualResetEventSlim();
        int stopRequests = 0, reloadRequests = 0;
        // SIGHUP reloads (as nginx's and sshd's do), under nohup too: the hangup nohup guards against then reloads instead
        // of killing.
        using var signals = CommandSignals.Register(
            stop: () => { Volatile.Write(ref stopRequests, 1); wake.Set(); },
            hangup: () =>
            {
                Interlocked.Increment(ref reloadRequests); // consumed by the loop below; orders nothing else
                wake.Set();
            });
        if (signals.Reclaimed.Count > 0)
            logger.LogInformation("{Signals} inherited as ignored (nohup, a background job): handled anyway (SIGHUP reloads, SIGINT and SIGTERM stop)",
                string.Join(", ", signals.Reclaimed.Select(InheritedSignals.Name)));
        GatewayRuntime runtime;
        try
        {
            runtime = GatewayRuntime.Start(path, loggers, format);
        }
        catch (ConfigException e)
        {
            logger.LogError("{Config} is invalid:{NewLine}{Errors}", path, Environment.NewLine, string.Join(Environment.NewLine, e.Errors));
            return CommandLine.ExitError;
        }
        catch (Exception e) when (e is LinuxException or NetInterfaceException or InvalidOperationException or IOException or DllNotFoundException
            or UnauthorizedAccessException)
        {
            logger.LogError("cannot start: {Error}", e.Message);
            return CommandLine.ExitError;
        }

        ControlServer? control = null;
        MetricsServer? metricsServer = null;
        try
        {
            var handler = new ControlHandler(runtime, loggers);
            string socketPath = controlSocket ?? runtime.Config.ControlSocket ?? ControlProtocol.DefaultSocketPath;
            try
            {
                control = new ControlServer(socketPath, handler.Handle, loggers.CreateLogger("control"));
                logger.LogInformation("control socket {Path} (mode 0600, root only)", socketPath);
            }
            catch (InvalidOperationException e) when (controlSocket is null && runtime.Config.ControlSocket is null)
            {
                // The default path is shared by every namespace (/run is not per netns): a second gateway on the
                // same host forwards anyway, and says how to get a socket of its own.
                logger.LogWarning("{Error}; running without a control socket", e.Message);
            }
            if (metrics is not null)
            {
                metricsServer = new MetricsServer(metrics, () => GatewayViews.Stats(runtime, handler.Capture), loggers.CreateLogger("metrics"));
                logger.LogInformation("Prometheus metrics on http://{Endpoint}/metrics", metricsServer.Endpoint);
            }
            Privileges.DropAfterSetup(runtime.Config, logger); // edge hook: service user, no capabilities from here on
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or UnauthorizedAccessException or InvalidOperationException or ArgumentException or LinuxException)
        {
            logger.LogError("cannot start the control socket or metrics endpoint, or drop privileges: {Error}", e.Message);
            metricsServer?.Dispose();
            control?.Dispose();
            runtime.Dispose();
            return CommandLine.ExitError;
        }

        var notifier = new ServiceNotifier();
        var watchdog = new WorkerWatchdog(() => runtime.Workers.Select(w => w.Passes).ToArray());
        notifier.Ready($"forwarding on {runtime.Config.Interfaces.Length} interface(s) with {runtime.Workers.Count} worker(s)");
        if (notifier.WatchdogInterval > TimeSpan.Zero)
            logger.LogInformation("systemd watchdog: a ping every {Seconds:0.###} s while every worker makes progress", notifier.WatchdogInterval.TotalSeconds);
        // The loop wakes at least twice per watchdog ping interval so a ping is never late.
        int waitMs = notifier.WatchdogInterval > TimeSpan.Zero ? (int)Math.Clamp(notifier.WatchdogInterval.TotalMilliseconds / 2, 10, 500) : 500;

        int exit = CommandLine.ExitOk;
        using (runtime)
        using (control)
        using (metricsServer)
        {
            while (true)
            {
                wake.Wait(waitMs);
                wake.Reset(); // before the requests are read: a signal after this wakes the next wait at once
                notifier.Tick(watchdog);
                if (runtime.Fault is { } fault)
                {
                    logger.LogCritical(fault, "a worker stopped on an internal error; shutting down");
                    notifier.Stopping();
                    exit = CommandLine.ExitError;
                    break;
                }
                if (Volatile.Read(ref stopRequests) != 0) // pairs with the handler's write; a stop wins over a pending reload
                {
                    logger.LogInformation("stopping");
                    notifier.Stopping();
                    break;
                }
                if (Interlocked.Exchange(ref reloadRequests, 0) > 0)
                {
                    logger.LogInformation("SIGHUP: reloading {Config}", path);
                    notifier.Status("reloading");
                    bool reloaded = TryReload(runtime, loggers, logger);
                    notifier.Status(reloaded ? "reloaded; forwarding" : "reload refused; forwarding with the previous configuration");
                }
            }
        }
        return exit;
    }

    public static bool TryReload(GatewayRuntime runtime, ILoggerFactory loggers, ILogger logger)
    {
        try
        {
            runtime.Reload(loggers);
            return true;
        }
        catch (ConfigException e)
        {
            logger.LogError("reload refused, keeping the running configuration: {Errors}", string.Join("; ", e.Errors));
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or ArgumentException)
        {
            logger.LogError("reload refused, keeping the running configuration: {Error}", e.Message);
        }
        return false;
    }
}
