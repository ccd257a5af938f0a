using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FastTun.Linux.Tests;

/// <summary>
/// Compiles a C probe from tests/FastTun.Linux.Tests/abi/ with the system <c>cc</c> into a temporary directory, runs
/// it and parses its output: one <c>name value</c> pair per line (e.g. <c>tpacket3_hdr.tp_mac 24</c>,
/// <c>tpacket3_hdr.size 48</c>, <c>SOL_PACKET 263</c>). ABI tests then compare those numbers with the C# interop
/// declarations, so the C compiler and the installed kernel headers are the oracle.
/// </summary>
public static class AbiProbe
{
    /// <summary>Compiles and runs <paramref name="cFileName"/> (a file name inside the abi/ folder) and returns its
    /// values in output order. Throws with the compiler's message when it does not build.</summary>
    public static IReadOnlyList<KeyValuePair<string, long>> Run(string cFileName, string extraCcArgs = "") =>
        Parse(RunOutput(cFileName, extraCcArgs));

    /// <summary>Compiles and runs <paramref name="cFileName"/> and returns what it printed, for probes with an
    /// output format of their own.</summary>
    public static string RunOutput(string cFileName, string extraCcArgs = "")
    {
        string source = FindSource(cFileName);
        string dir = Path.Combine(Path.GetTempPath(), $"fasttun-abi-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string exe = Path.Combine(dir, Path.GetFileNameWithoutExtension(cFileName));
            Exec("cc", $"-std=gnu11 -Wall -Werror -o \"{exe}\" \"{source}\" {extraCcArgs}");
            return Exec(exe, "");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Parses <c>name value</c> lines; blank lines are skipped, anything else is an error.</summary>
    public static IReadOnlyList<KeyValuePair<string, long>> Parse(string output)
    {
        var values = new List<KeyValuePair<string, long>>();
        foreach (string raw in output.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0) continue;
            string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2 || !long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out long v))
                throw new FormatException($"ABI probe line is not 'name value': '{line}'");
            values.Add(new(parts[0], v));
        }
        return values;
    }

    /// <summary>Asserts that struct <paramref name="t"/> matches the probe's <c>NAME.size</c> and <c>NAME.field</c>
    /// lines (NAME = <paramref name="cName"/> or the type's name): same size, every C# field at the C offset, and
    /// every probed field declared in C#.</summary>
    public static void AssertStructMatches(IReadOnlyList<KeyValuePair<string, long>> probe, Type t, string? cName = null)
    {
        string name = cName ?? t.Name;
        var c = probe.Where(kv => kv.Key.StartsWith(name + ".", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key[(name.Length + 1)..], kv => kv.Value);
        Assert.True(c.ContainsKey("size"), $"the probe prints no {name}.size");
        int size = (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(t).Invoke(null, null)!;
        Assert.True(c["size"] == size, $"sizeof({name}): C {c["size"]}, C# {size}");
        var fields = t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
        Assert.NotEmpty(fields);
        foreach (var f in fields)
        {
            Assert.True(c.ContainsKey(f.Name), $"{name}.{f.Name} is not printed by the probe");
            long offset = Marshal.OffsetOf(t, f.Name);
            Assert.True(c[f.Name] == offset, $"{name}.{f.Name}: C offset {c[f.Name]}, C# {offset}");
        }
        foreach (string cField in c.Keys.Where(k => k != "size"))
            Assert.True(fields.Any(f => f.Name == cField), $"{name}.{cField} is in the C struct but not declared in C#");
    }

    /// <summary>Asserts that every probe line without a dot (a constant) equals the same-named const field of
    /// <paramref name="holder"/> (e.g. the Libc partial class), except names in <paramref name="skip"/>.</summary>
    public static void AssertConstantsMatch(IReadOnlyList<KeyValuePair<string, long>> probe, Type holder, params string[] skip)
    {
        foreach (var (name, value) in probe.Where(kv => !kv.Key.Contains('.') && !skip.Contains(kv.Key)))
        {
            var field = holder.GetField(name, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static);
            Assert.True(field != null, $"{holder.Name} has no constant {name}");
            long actual = Convert.ToInt64(field!.GetValue(null));
            Assert.True(actual == value, $"{name}: kernel {value}, C# {actual}");
        }
    }

    /// <summary>Finds abi/<paramref name="cFileName"/> by walking up from the test binaries to the checkout.</summary>
    public static string FindSource(string cFileName)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            foreach (string candidate in new[]
                     {
                         Path.Combine(dir.FullName, "abi", cFileName),
                         Path.Combine(dir.FullName, "tests", "FastTun.Linux.Tests", "abi", cFileName),
                     })
            {
                if (File.Exists(candidate)) return candidate;
            }
        }
        throw new FileNotFoundException($"ABI probe source abi/{cFileName} not found above {AppContext.BaseDirectory}");
    }

    private static string Exec(string file, string args)
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
        if (!p.WaitForExit(60_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {args} did not finish in 60 s");
        }
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {args} exited {p.ExitCode}: {stderr.Result.Trim()}");
        return stdout.Result;
    }
}
