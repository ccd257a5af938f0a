using System.Diagnostics;

namespace FastTun.Gateway.Tests.Netns;

/// <summary>Starts and stops real `fasttun run` processes inside a lab's namespaces, for the netns fixtures.</summary>
public static class GatewayProcess
{
    public static string Fasttun => Path.Combine(AppContext.BaseDirectory, "fasttun");

    /// <summary>
    /// Starts `fasttun <paramref name="fasttunArgs"/>` in namespace <paramref name="netns"/>, its stdout and stderr
    /// going to <paramref name="logPath"/>, and adds it to <paramref name="started"/> at once (so the fixture
    /// stops it even if it never becomes ready). Returns when <paramref name="ready"/> holds for the log text;
    /// throws with the log when the process exits first or the time runs out.
    /// </summary>
    public static Process Start(string netns, string fasttunArgs, string logPath, Func<string, bool> ready,
        TimeSpan timeout, List<Process> started) =>
        StartCommand(netns, $"{Fasttun} {fasttunArgs}", logPath, ready, timeout, started);

    /// <summary>As <see cref="Start"/> for any command (a scapy peer, for one).</summary>
    public static Process StartCommand(string netns, string command, string logPath, Func<string, bool> ready,
        TimeSpan timeout, List<Process> started)
    {
        var psi = new ProcessStartInfo("ip", $"netns exec {netns} {command}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var p = Process.Start(psi)!;
        started.Add(p);
        var sink = new StreamWriter(logPath, append: false) { AutoFlush = true };
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (sink) sink.WriteLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (sink) sink.WriteLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (p.HasExited) throw new InvalidOperationException($"{netns}: {command} exited {p.ExitCode}: {File.ReadAllText(logPath)}");
            if (ready(File.ReadAllText(logPath))) return p;
            Thread.Sleep(100);
        }
        throw new TimeoutException($"{netns}: {command} not ready in {timeout.TotalSeconds:0} s: {File.ReadAllText(logPath)}");
    }

    /// <summary>Starts tcpdump (<paramref name="arguments"/>) in namespace <paramref name="netns"/> and returns once it says
    /// "listening on" (its socket is open: nothing sent after this is missed), with its standard output still unread for the
    /// caller; throws after 20 s.</summary>
    public static Process StartTcpdump(string netns, string arguments)
    {
        var p = Process.Start(new ProcessStartInfo("ip", $"netns exec {netns} {arguments}")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        })!;
        var listening = new TaskCompletionSource();
        p.ErrorDataReceived += (_, e) => { if (e.Data?.Contains("listening on", StringComparison.Ordinal) == true) listening.TrySetResult(); };
        p.BeginErrorReadLine();
        if (!listening.Task.Wait(TimeSpan.FromSeconds(20)))
        {
            p.Kill();
            throw new TimeoutException($"{netns}: {arguments} did not start listening in 20 s");
        }
        return p;
    }

    /// <summary>Waits up to <paramref name="milliseconds"/> for <paramref name="p"/> to exit and for the last of its
    /// redirected output to reach the handlers (WaitForExit(int) returns at the exit, while lines written just before it
    /// may still be in the pipe, and disposing the process then drops them); false when that has not happened in time.</summary>
    public static bool WaitForExitAndOutput(Process p, int milliseconds)
    {
        using var timeout = new CancellationTokenSource(milliseconds);
        try
        {
            p.WaitForExitAsync(timeout.Token).GetAwaiter().GetResult();
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>SIGTERM, ten seconds to stop cleanly, then kill.</summary>
    public static void Stop(Process p)
    {
        try
        {
            if (!p.HasExited)
            {
                GatewayLab.Run("kill", $"-TERM {p.Id}", check: false);
                if (!p.WaitForExit(10_000)) p.Kill(entireProcessTree: true);
            }
            WaitForExitAndOutput(p, 5_000); // the log gets the lines written before the exit
        }
        catch (InvalidOperationException) { }
        p.Dispose();
    }
}
