using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using FastTun.Traffic;

namespace FastTun.Gateway.Cli;

/// <summary>
/// <c>fasttun bench rfc2544</c>: drives <c>fasttun sink</c> and <c>fasttun gen</c> as child processes (each
/// optionally in a network namespace and pinned to a CPU), one pair per trial, and searches for the highest
/// zero-loss rate with <see cref="Rfc2544Search"/>. Loss is generator-sent minus sink-received test packets, so
/// tail loss counts too.
/// </summary>
public static class BenchCommand
{
    public const string UsageText = """
        Usage: fasttun bench rfc2544 --tx-iface X --rx-iface Y [--tx-netns NS] [--rx-netns NS]
                                     [--tx-cpu N] [--rx-cpu N] [--driver af_xdp|af_packet] [--rx-driver D]
                                     [--rx-ip A] [--size S] [--duration S] [--loss PCT] [--resolution PCT]
                                     [--max-rate PPS] [--max-trials N] [--json]
                                     [generator options: --dst IP[:PORT] --src --via --dst-mac --src-mac --flows
                                      --batch --encap --outer-src --outer-dst --key --csum --seq --vni
                                      --inner-dst-mac]
        Each trial starts a sink on the rx interface, waits until it is ready, runs the generator for
        --duration seconds at the trial rate, then stops the sink and compares the counts.

        """;

    private static readonly HashSet<string> GenFlags = ["--csum", "--seq"];
    private static readonly HashSet<string> GenOptions =
        ["--dst", "--src", "--via", "--dst-mac", "--src-mac", "--flows", "--batch", "--encap", "--outer-src",
         "--outer-dst", "--key", "--vni", "--inner-dst-mac", "--queue"];

    public static int Run(ReadOnlySpan<string> args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.Out.Write(UsageText);
            return args.Length == 0 ? CommandLine.ExitUsage : CommandLine.ExitOk;
        }
        if (args[0] != "rfc2544") return Usage($"unknown benchmark '{args[0]}' (only rfc2544)");
        string? txIface = null, rxIface = null, txNs = null, rxNs = null, txCpu = null, rxCpu = null, rxIp = null;
        string driver = "af_xdp";
        string? rxDriver = null;
        int size = 64, maxTrials = 12;
        double loss = 0, resolution = 2, maxRate = 0;
        var duration = TimeSpan.FromSeconds(2);
        bool json = false;
        var genArgs = new List<string>();
        for (int i = 1; i < args.Length; i++)
        {
            string a = args[i];
            string? v = i + 1 < args.Length ? args[i + 1] : null;
            bool ok = true;
            switch (a)
            {
                case "--tx-iface" when v is not null: txIface = v; i++; break;
                case "--rx-iface" when v is not null: rxIface = v; i++; break;
                case "--tx-netns" when v is not null: txNs = v; i++; break;
                case "--rx-netns" when v is not null: rxNs = v; i++; break;
                case "--tx-cpu" when v is not null: ok = TrafficArgs.TryInt(v, 0, 4095, out _); txCpu = v; i++; break;
                case "--rx-cpu" when v is not null: ok = TrafficArgs.TryInt(v, 0, 4095, out _); rxCpu = v; i++; break;
                case "--driver" when v is not null: ok = TrafficPorts.TryParseDriver(v, out _); driver = v; i++; break;
                case "--rx-driver" when v is not null: ok = TrafficPorts.TryParseDriver(v, out _); rxDriver = v; i++; break;
                case "--rx-ip" when v is not null: rxIp = v; i++; break;
                case "--size" when v is not null: ok = TrafficArgs.TryInt(v, TrafficSpec.MinSize, TrafficSpec.MaxSize, out size); i++; break;
                case "--duration" when v is not null: ok = TrafficArgs.TrySeconds(v, out duration); i++; break;
                case "--loss" when v is not null: ok = double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out loss) && loss is >= 0 and < 100; i++; break;
                case "--resolution" when v is not null: ok = double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out resolution) && resolution is > 0 and < 100; i++; break;
                case "--max-rate" when v is not null: ok = TrafficArgs.TryRate(v, out maxRate); i++; break;
                case "--max-trials" when v is not null: ok = TrafficArgs.TryInt(v, 1, 100, out maxTrials); i++; break;
                case "--json": json = true; break;
                default:
                    if (GenFlags.Contains(a)) { genArgs.Add(a); break; }
                    if (GenOptions.Contains(a) && v is not null) { genArgs.Add(a); genArgs.Add(v); i++; break; }
                    return Usage($"unknown or incomplete argument '{a}'");
            }
            if (!ok) return Usage($"bad value '{v}' for {a}");
        }
        if (txIface is null || rxIface is null) return Usage("--tx-iface and --rx-iface are required");
        if (!genArgs.Contains("--dst")) return Usage("missing --dst (passed to the generator)");

        var runner = new TrialRunner(txIface, rxIface, txNs, rxNs, txCpu, rxCpu, driver, rxDriver ?? driver, rxIp, size, duration, genArgs);
        Rfc2544Result result;
        try
        {
            result = Rfc2544Search.Run(runner.Run, maxRate, loss, resolution, maxTrials, t =>
            {
                if (!json) Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"trial {t.Step,2}: offered {(t.RequestedRate > 0 ? $"{t.RequestedRate:F0} pps" : "max"),-14} sent {t.Sent,10} ({t.TxPps / 1e6:F3} Mpps)  received {t.Received,10} ({t.RxPps / 1e6:F3} Mpps)  loss {t.LossPercent:F4} %  {(t.Passed ? "pass" : "fail")}"));
                if (!json && t.RequestedRate > 0 && t.TxPps < 0.95 * t.RequestedRate)
                    Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"          the generator reached only {t.TxPps / t.RequestedRate:P0} of the offered rate (busy CPU?)"));
            });
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine($"fasttun bench: {e.Message}");
            return CommandLine.ExitError;
        }
        if (json)
        {
            Console.Out.WriteLine(Json(result, size, duration, loss));
        }
        else
        {
            string note = result.GeneratorLimited ? " (the generator's maximum: the device kept up)" : "";
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"throughput ({size}-byte frames, loss ≤ {loss} %): {result.ThroughputPps:F0} pps = {result.ThroughputPps * size * 8 / 1e9:F3} Gbit/s{note}"));
        }
        return CommandLine.ExitOk;
    }

    private static string Json(Rfc2544Result r, int size, TimeSpan duration, double loss)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("command", "bench rfc2544");
            w.WriteNumber("size", size);
            w.WriteNumber("trial_seconds", duration.TotalSeconds);
            w.WriteNumber("loss_percent", loss);
            w.WriteNumber("throughput_pps", Math.Round(r.ThroughputPps));
            w.WriteBoolean("generator_limited", r.GeneratorLimited);
            w.WriteStartArray("trials");
            foreach (var t in r.Trials)
            {
                w.WriteStartObject();
                w.WriteNumber("step", t.Step);
                w.WriteNumber("offered_pps", Math.Round(t.RequestedRate));
                w.WriteNumber("sent", t.Sent);
                w.WriteNumber("received", t.Received);
                w.WriteNumber("tx_pps", Math.Round(t.TxPps, 1));
                w.WriteNumber("rx_pps", Math.Round(t.RxPps, 1));
                w.WriteNumber("loss_percent", Math.Round(t.LossPercent, 6));
                w.WriteBoolean("passed", t.Passed);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static int Usage(string message) => CliErrors.Usage("bench", message, UsageText);

    /// <summary>One trial = one sink process and one generator process.</summary>
    private sealed class TrialRunner(string txIface, string rxIface, string? txNs, string? rxNs, string? txCpu, string? rxCpu,
        string driver, string rxDriver, string? rxIp, int size, TimeSpan duration, List<string> genArgs)
    {
        public Rfc2544Outcome Run(double rate)
        {
            var sinkArgs = new List<string> { "sink", "--iface", rxIface, "--driver", rxDriver, "--json",
                "--duration", (duration.TotalSeconds + 30).ToString(CultureInfo.InvariantCulture) };
            if (rxIp is not null) { sinkArgs.Add("--ip"); sinkArgs.Add(rxIp); }
            using var sink = Start(rxNs, rxCpu, sinkArgs);
            var ready = new TaskCompletionSource();
            var sinkErr = new StringBuilder();
            sink.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                lock (sinkErr) sinkErr.AppendLine(e.Data);
                if (e.Data.StartsWith("sink: ready", StringComparison.Ordinal)) ready.TrySetResult();
            };
            sink.BeginErrorReadLine();
            Task<string> sinkOut = sink.StandardOutput.ReadToEndAsync();
            if (!ready.Task.Wait(TimeSpan.FromSeconds(20)) )
            {
                Kill(sink);
                throw new InvalidOperationException($"sink did not start: {sinkErr}");
            }

            var args = new List<string> { "gen", "--iface", txIface, "--driver", driver, "--size", size.ToString(CultureInfo.InvariantCulture),
                "--rate", rate > 0 ? rate.ToString("F0", CultureInfo.InvariantCulture) : "max",
                "--duration", duration.TotalSeconds.ToString(CultureInfo.InvariantCulture), "--json" };
            args.AddRange(genArgs);
            using var gen = Start(txNs, txCpu, args);
            Task<string> genErr = gen.StandardError.ReadToEndAsync();
            string genOut = gen.StandardOutput.ReadToEnd();
            if (!gen.WaitForExit(TimeSpan.FromSeconds(duration.TotalSeconds + 30))) Kill(gen);
            // Let frames in flight (rings, backlogs) arrive before the sink stops counting.
            Thread.Sleep(300);
            Signal(sink.Id, "TERM"); // not INT: a parent started in the background by a script passes SIGINT on ignored
            if (!sink.WaitForExit(TimeSpan.FromSeconds(10))) Kill(sink);
            if (gen.ExitCode != 0) throw new InvalidOperationException($"generator failed ({gen.ExitCode}): {genErr.Result}");
            using var g = JsonDocument.Parse(genOut);
            using var s = JsonDocument.Parse(sinkOut.Result);
            return new Rfc2544Outcome(
                g.RootElement.GetProperty("sent").GetInt64(),
                s.RootElement.GetProperty("packets").GetInt64(),
                g.RootElement.GetProperty("pps").GetDouble(),
                s.RootElement.GetProperty("pps").GetDouble());
        }

        private static Process Start(string? netns, string? cpu, List<string> fasttunArgs)
        {
            var argv = new List<string>();
            if (netns is not null) argv.AddRange(["ip", "netns", "exec", netns]);
            if (cpu is not null) argv.AddRange(["taskset", "-c", cpu]);
            string self = Environment.ProcessPath ?? throw new InvalidOperationException("cannot find the fasttun executable");
            argv.Add(self);
            if (Path.GetFileNameWithoutExtension(self) == "dotnet") argv.Add(typeof(BenchCommand).Assembly.Location);
            argv.AddRange(fasttunArgs);
            var psi = new ProcessStartInfo(argv[0])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (string a in argv.Skip(1)) psi.ArgumentList.Add(a);
            return Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {argv[0]}");
        }

        /// <summary>ip netns exec and taskset exec() their command, so the child's pid is fasttun's own.</summary>
        private static void Signal(int pid, string signal)
        {
            using var kill = Process.Start(new ProcessStartInfo("kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false });
            kill?.WaitForExit(5000);
        }

        private static void Kill(Process p)
        {
            try { p.Kill(); } catch (InvalidOperationException) { }
        }
    }
}
