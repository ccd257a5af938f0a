using FastTun.Linux.Interop;

namespace FastTun.Linux.Security;

/// <summary>
/// Switches a process that was started as root to an unprivileged service user once its setup is done. The
/// uid change from 0 to non-zero makes the kernel clear the permitted, effective and ambient capability sets,
/// and glibc applies setgroups/setresgid/setresuid to every thread of the process, so no thread (workers,
/// control threads, the runtime's own) keeps a capability. Forwarding needs none: every socket, ring, map and
/// link it uses is already open.
/// </summary>
public static class ServiceUser
{
    /// <summary>uid and gid of <paramref name="name"/> from /etc/passwd (a name, or a numeric uid).</summary>
    public static (uint Uid, uint Gid) Resolve(string name, string passwd = "/etc/passwd")
    {
        foreach (string line in File.ReadLines(passwd))
        {
            // name:password:uid:gid:gecos:home:shell
            var f = line.Split(':');
            if (f.Length < 4 || !uint.TryParse(f[2], out uint uid) || !uint.TryParse(f[3], out uint gid)) continue;
            if (f[0] == name || f[2] == name) return (uid, gid);
        }
        throw new InvalidOperationException($"service user '{name}' does not exist in {passwd} (create it: useradd --system --no-create-home {name})");
    }

    /// <summary>Drops to <paramref name="uid"/>/<paramref name="gid"/> with no supplementary groups, for good (real,
    /// effective and saved ids). Throws when any step fails or a capability survives.</summary>
    public static unsafe void SwitchTo(uint uid, uint gid)
    {
        if (uid == 0) throw new InvalidOperationException("the service user must not be root");
        uint g = gid;
        if (Libc.setgroups(1, &g) != 0) throw LinuxException.FromLastError("setgroups");
        if (Libc.setresgid(gid, gid, gid) != 0) throw LinuxException.FromLastError($"setresgid({gid})");
        if (Libc.setresuid(uid, uid, uid) != 0) throw LinuxException.FromLastError($"setresuid({uid})");
        ulong left = Capabilities.Effective();
        if (left != 0) throw new InvalidOperationException($"capabilities {left:x} survived the switch to uid {uid}");
    }
}
