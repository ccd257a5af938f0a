using System.Globalization;

namespace FastTun.Linux.Security;

/// <summary>The Linux capabilities FastTun uses, by their kernel numbers (linux/capability.h).</summary>
public enum Capability
{
    SetGid = 6,
    SetUid = 7,
    NetAdmin = 12,
    NetRaw = 13,
    IpcLock = 14,
    SysAdmin = 21,
    Bpf = 39,
}

/// <summary>
/// Reads capability sets from /proc (no syscall, any thread's view): what the process may do is decided by
/// its capabilities, not by its uid, so a gateway started by systemd as a plain user with
/// AmbientCapabilities works, and a root process stripped of CAP_NET_ADMIN is told exactly what is missing.
/// </summary>
public static class Capabilities
{
    /// <summary>CapEff of /proc/<paramref name="pid"/>/status (or this process), or of one thread's status file.</summary>
    public static ulong Effective(string statusPath = "/proc/self/status") => ReadSet(statusPath, "CapEff:");

    public static ulong ReadSet(string statusPath, string field)
    {
        foreach (string line in File.ReadLines(statusPath))
            if (line.StartsWith(field, StringComparison.Ordinal))
                return ulong.Parse(line.AsSpan(field.Length).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        throw new InvalidDataException($"{statusPath} has no {field} line");
    }

    public static bool Has(ulong set, Capability c) => (set & (1UL << (int)c)) != 0;

    /// <summary>The highest capability this kernel knows (/proc/sys/kernel/cap_last_cap).</summary>
    public static int LastCap()
    {
        try
        {
            return int.Parse(File.ReadAllText("/proc/sys/kernel/cap_last_cap").Trim(), CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
        {
            return (int)Capability.Bpf;
        }
    }

    /// <summary>RLIMIT_MEMLOCK is unlimited (then CAP_IPC_LOCK is not needed for an AF_XDP UMEM).</summary>
    public static bool MemlockUnlimited()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/limits"))
                if (line.StartsWith("Max locked memory", StringComparison.Ordinal))
                    return line.Contains("unlimited", StringComparison.Ordinal);
        }
        catch (IOException) { }
        return false;
    }

    /// <summary>CAP_NET_ADMIN style names, as capabilities(7) and systemd's CapabilityBoundingSet spell them.</summary>
    public static string Name(Capability c) => c switch
    {
        Capability.SetGid => "CAP_SETGID",
        Capability.SetUid => "CAP_SETUID",
        Capability.NetAdmin => "CAP_NET_ADMIN",
        Capability.NetRaw => "CAP_NET_RAW",
        Capability.IpcLock => "CAP_IPC_LOCK",
        Capability.SysAdmin => "CAP_SYS_ADMIN",
        Capability.Bpf => "CAP_BPF",
        _ => $"capability {(int)c}",
    };
}
