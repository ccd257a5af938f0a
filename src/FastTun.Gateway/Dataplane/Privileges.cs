using FastTun.Gateway.Config;
using FastTun.Linux.Security;
using Microsoft.Extensions.Logging;

namespace FastTun.Gateway.Dataplane;

/// <summary>
/// Least privilege for <c>fasttun run</c>. Before setup it checks the capabilities the configuration needs (not the
/// uid): CAP_NET_ADMIN (interface settings, XDP attach, sysctls) and CAP_NET_RAW (AF_PACKET and AF_XDP sockets)
/// always; for AF_XDP also CAP_BPF to load the program (CAP_SYS_ADMIN instead on a kernel that predates CAP_BPF)
/// and CAP_IPC_LOCK for the UMEM unless RLIMIT_MEMLOCK is unlimited; CAP_SETUID and CAP_SETGID when it is to switch
/// to a service user. After setup, started as root with <c>set fasttun user NAME</c>, it becomes NAME and keeps
/// no capability at all: forwarding uses only descriptors that are already open.
/// </summary>
public static class Privileges
{
    /// <summary>The capabilities <paramref name="config"/> needs at start-up, in the order they are reported.</summary>
    public static List<Capability> Required(GatewayConfig config, bool switchesUser)
    {
        var need = new List<Capability> { Capability.NetAdmin, Capability.NetRaw };
        if (config.Interfaces.Any(i => i.Driver == PortDriver.AfXdp))
        {
            need.Add(Capabilities.LastCap() >= (int)Capability.Bpf ? Capability.Bpf : Capability.SysAdmin);
            if (!Capabilities.MemlockUnlimited()) need.Add(Capability.IpcLock);
        }
        if (switchesUser) need.AddRange([Capability.SetUid, Capability.SetGid]);
        return need;
    }

    /// <summary>Throws naming every missing capability, or returns when the effective set holds them all.</summary>
    public static void CheckBeforeSetup(GatewayConfig config)
    {
        bool switches = config.User is not null && Linux.Interop.Libc.geteuid() == 0;
        ulong effective = Capabilities.Effective();
        var missing = Required(config, switches).Where(c => !Capabilities.Has(effective, c)).ToList();
        if (missing.Count == 0) return;
        throw new InvalidOperationException(
            $"missing capabilities {string.Join(", ", missing.Select(Capabilities.Name))} (needs {string.Join(" ", Required(config, switches).Select(Capabilities.Name))}; " +
            "run as root, or give them to the service, e.g. systemd AmbientCapabilities=)");
    }

    /// <summary>After setup: switch to the configured service user when running as root (all capabilities go with
    /// uid 0). Without a user it says what it keeps.</summary>
    public static void DropAfterSetup(GatewayConfig config, ILogger logger)
    {
        bool root = Linux.Interop.Libc.geteuid() == 0;
        if (config.User is string name && root)
        {
            var (uid, gid) = ServiceUser.Resolve(name);
            ServiceUser.SwitchTo(uid, gid);
            logger.LogInformation("setup done: now uid {Uid} ({User}) gid {Gid}, no capabilities", uid, name, gid);
            return;
        }
        ulong effective = Capabilities.Effective();
        if (root)
            logger.LogWarning("running as root with capabilities {CapEff:x16}: set 'set fasttun user NAME' to drop them after setup", effective);
        else
            logger.LogInformation("running as uid {Uid} with capabilities {CapEff:x16}", Linux.Interop.Libc.geteuid(), effective);
    }
}
