using FastTun.Linux.Interop;

namespace FastTun.Linux.AfXdp;

/// <summary>
/// FastTun's XDP program attached to one interface, shared by every <see cref="AfXdpPort"/> of that interface
/// in this process (one per queue) and detached when the last one is disposed. Attaching goes through the
/// native shim; it replaces a stale FastTun program left by a crashed run and refuses a foreign program
/// unless forced.
/// </summary>
public sealed class XdpProgram
{
    private static readonly Dictionary<int, XdpProgram> s_attached = new();
    private static readonly object s_lock = new();

    private int _references;

    private readonly int _linkFd;

    private XdpProgram(string interfaceName, int ifindex, int xskMapFd, XdpAttachMode mode, int linkFd)
    {
        InterfaceName = interfaceName;
        Ifindex = ifindex;
        XskMapFd = xskMapFd;
        Mode = mode;
        _linkFd = linkFd;
    }

    public string InterfaceName { get; }
    public int Ifindex { get; }
    /// <summary>Our fd of the program's XSKMAP; the map lives as long as the program or this fd.</summary>
    internal int XskMapFd { get; }
    /// <summary>The mode the program actually runs in (never Auto).</summary>
    public XdpAttachMode Mode { get; }

    /// <summary>Attaches (first caller per interface) or shares the attachment.</summary>
    internal static XdpProgram Acquire(string interfaceName, int ifindex, AfXdpOptions options)
    {
        lock (s_lock)
        {
            if (s_attached.TryGetValue(ifindex, out var existing))
            {
                if (options.AttachMode != XdpAttachMode.Auto && options.AttachMode != existing.Mode)
                    throw new InvalidOperationException(
                        $"{interfaceName}: XDP program already attached in {existing.Mode} mode by another port, {options.AttachMode} requested");
                existing._references++;
                return existing;
            }
            var program = Attach(interfaceName, ifindex, options);
            program._references = 1;
            s_attached.Add(ifindex, program);
            return program;
        }
    }

    internal void Release()
    {
        lock (s_lock)
        {
            if (--_references > 0) return;
            s_attached.Remove(Ifindex);
            Libc.close(XskMapFd);
            Libc.close(_linkFd); // the bpf_link's last fd: the kernel detaches the program

        }
    }

    private static unsafe XdpProgram Attach(string interfaceName, int ifindex, AfXdpOptions options)
    {
        string path = options.BpfObjectPath ?? FastTunXdp.FindAsset(FastTunXdp.ProgramFile)
            ?? throw new FileNotFoundException(
                $"{interfaceName}: {FastTunXdp.ProgramFile} not found (looked in {string.Join(", ", FastTunXdp.SearchDirectories())}); build it with `make -C native`");
        int pref = (int)options.AttachMode | (options.ForceReplaceForeignProgram ? FastTunXdp.Force : 0);
        int mapFd, mode, linkFd;
        int rc = FastTunXdp.fasttun_xdp_attach(ifindex, path, options.MaxQueues, pref, &mapFd, &mode, &linkFd);
        if (rc == -FastTunXdp.EEXIST)
            throw new LinuxException(
                $"attach XDP program to {interfaceName}: another (non-FastTun) XDP program is attached; detach it or set ForceReplaceForeignProgram", FastTunXdp.EEXIST);
        if (rc == -FastTunXdp.EBUSY)
            throw new LinuxException(
                $"attach XDP program to {interfaceName}: a running process holds the interface's XDP program through a bpf_link (another gateway?)", FastTunXdp.EBUSY);
        if (rc < 0)
            throw new LinuxException($"attach XDP program {path} to {interfaceName} ({options.AttachMode} mode)", -rc);
        return new XdpProgram(interfaceName, ifindex, mapFd, (XdpAttachMode)mode, linkFd);
    }

    /// <summary>The mode of FastTun's program on an interface (null = none attached), from the kernel.
    /// Throws when a foreign program is attached.</summary>
    public static unsafe XdpAttachMode? Query(string interfaceName)
    {
        int ifindex = (int)Libc.if_nametoindex(interfaceName);
        if (ifindex == 0) throw LinuxException.FromLastError($"if_nametoindex({interfaceName})");
        int mode;
        uint id;
        int rc = FastTunXdp.fasttun_xdp_query(ifindex, &mode, &id);
        if (rc < 0) throw new LinuxException($"query XDP program on {interfaceName} (program id {id})", -rc);
        return mode == 0 ? null : (XdpAttachMode)mode;
    }
}
