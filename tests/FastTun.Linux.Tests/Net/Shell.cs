using System.Diagnostics;

namespace FastTun.Linux.Tests.Net;

/// <summary>Runs setup commands (ip, ethtool, tc) for root tests; a failure throws with the command's stderr.</summary>
public static class Shell
{
    public static string Run(string file, string args, bool check = true, int timeoutMs = 30_000)
    {
        var psi = new ProcessStartInfo(file, args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {args} did not finish in {timeoutMs} ms");
        }
        if (check && p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {args} exited {p.ExitCode}: {stderr.Result.Trim()}");
        return stdout.Result;
    }

    public static string Ip(string args, bool check = true) => Run("ip", args, check);
}
