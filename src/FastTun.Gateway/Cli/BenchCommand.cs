using System.CommandLine;
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
    public static Command Build()
    {
        var bench = new Command("bench", "benchmarks that drive FastTun's own traffic tools");
        bench.Subcommands.Add(BuildRfc2544());
        bench.Subcommands.Add(WorkerBenchCommand.Build());
        bench.SetAction(r =>
        {
            r.Err().WriteLine("fasttun bench: which benchmark? (fasttun bench --help)");
            return CommandLine.ExitUsage;
        });
        return bench;
    }

    private static Command BuildRfc2544()
    {
        var txIface = new Option<string>("--tx-iface") { Description = "interface the generator sends on", HelpName = "NAME", Required = true };
        var rxIface = new Option<string>("--rx-iface") { Description = "interface the sink counts on", HelpName = "NAME", Required = true };
        var txNs = new Option<string?>("--tx-netns") { Description = "network namespace of the generator", HelpName = "NS" };
        var rxNs = new Option<string?>("--rx-netns") { Description = "network namespace of the sink", HelpName = "NS" };
        var txCpu = CliOptions.Optional("--tx-cpu", "pin the generator to this CPU", "N", (string t, out int v) => TrafficArgs.TryInt(t, 0, 4095, out v), "a CPU number 0 to 4095");
        var rxCpu = CliOptions.Optional("--rx-cpu", "pin the sink to this CPU", "N", (string t, out int v) => TrafficArgs.TryInt(t, 0, 4095, out v), "a CPU number 0 to 4095");
        var driver = GenOptions.Driver("--driver", "generator driver (and the sink's unless --rx-driver)");
        var rxDriver = CliOptions.Completing(CliOptions.Optional("--rx-driver", "sink driver", "af_xdp|af_packet",
            (string t, out TrafficDriver d) => TrafficPorts.TryParseDriver(t, out d), "af_xdp or af_packet"), "af_xdp", "af_packet");
        var rxIp = new Option<string?>("--rx-ip") { Description = "address the sink answers ARP for", HelpName = "A.B.C.D" };
        rxIp.Validators.Add(r =>
        {
            if (r.Tokens.Count > 0 && !FastTun.Packets.Headers.Ipv4Address.TryParse(r.Tokens[^1].Value, out _))
                r.AddError($"--rx-ip: '{r.Tokens[^1].Value}' is not an IPv4 address");
        });
        var size = GenOptions.Size();
        var duration = CliOptions.Seconds("--duration", "length of each trial", TimeSpan.FromSeconds(2));
        var loss = CliOptions.Number("--loss", "loss allowed in a passing trial, percent", "PCT", 0, 99.999, false, 0);
        var resolution = CliOptions.Number("--resolution", "stop when the search interval is this narrow, percent", "PCT", 0, 99.999, true, 2);
        var maxRate = CliOptions.Validated("--max-rate", "first trial's rate (default: as fast as the generator goes)", "PPS",
            TrafficArgs.TryRate, "a rate > 0 (k or M suffix) or max", 0.0);
        var maxTrials = CliOptions.Int("--max-trials", "upper bound on trials", 1, 100, 12);
        var json = CliOptions.Json("print the search as JSON");
        var gen = new GenOptions();
        var command = new Command("rfc2544", "binary search for the highest zero-loss rate: each trial starts a sink on the rx " +
            "interface, runs the generator for --duration at the trial rate, then compares the counts; generator options " +
            "(--dst, --encap, ...) are passed to fasttun gen")
        {
            txIface, rxIface, txNs, rxNs, txCpu, rxCpu, driver, rxDriver, rxIp, size, duration, loss, resolution, maxRate, maxTrials, json,
        };
        gen.AddTo(command, dstRequired: true);
        command.SetAction(r =>
        {
            string Cpu(int? cpu) => cpu?.ToString(CultureInfo.InvariantCulture)!;
            var tx = r.GetValue(driver);
            return RunRfc2544(r.GetValue(txIface)!, r.GetValue(rxIface)!, r.GetValue(txNs), r.GetValue(rxNs), Cpu(r.GetValue(txCpu)),
                Cpu(r.GetValue(rxCpu)), TrafficPorts.Name(tx), TrafficPorts.Name(r.GetValue(rxDriver) ?? tx), r.GetValue(rxIp),
                r.GetValue(size), r.GetValue(duration), r.GetValue(loss), r.GetValue(resolution), r.GetValue(maxRate), r.GetValue(maxTrials),
                r.GetValue(json), gen.Forward(r));
        });
        return command;
    }

    public static int RunRfc2544(string txIface, string rxIface, string? txNs, string? rxNs, string? txCpu, string? rxCpu, string driver,
        string rxDriver, string? rxIp, int size, TimeSpan duration, double loss, double resolution, double maxRate, int maxTrials, bool json,
        List<string> genArgs)
    {
        var runner = new TrialRunner(txIface, rxIface, txNs, rxNs, txCpu, rxCpu, driver, rxDriver, rxIp, size, duration, genArgs);
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
