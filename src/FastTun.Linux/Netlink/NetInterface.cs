using System.Runtime.InteropServices;
using System.Text;
using FastTun.Linux.Interop;

namespace FastTun.Linux.Netlink;

/// <summary>
/// A snapshot of one network interface: index, MAC, MTU, link state and queue counts. Read with the classic
/// interface ioctls (SIOCGIFINDEX/HWADDR/MTU/FLAGS) on a throw-away AF_PACKET socket, queue counts from sysfs
/// (<c>/sys/class/net/NAME/queues/{rx,tx}-N</c>, which is what the kernel sizes IFLA_NUM_RX/TX_QUEUES from). Setup
/// code only: every failure is a <see cref="NetInterfaceException"/> naming the interface.
/// </summary>
public sealed class NetInterface
{
    private NetInterface(string name, int index, byte[] mac, int mtu, int flags, bool carrier, int rxQueues, int txQueues)
    {
        HasCarrier = carrier;
        Name = name;
        Index = index;
        Mac = mac;
        Mtu = mtu;
        Flags = flags;
        RxQueues = rxQueues;
        TxQueues = txQueues;
    }

    public string Name { get; }
    public int Index { get; }
    /// <summary>Hardware address, 6 bytes for Ethernet.</summary>
    public byte[] Mac { get; }
    public int Mtu { get; }
    /// <summary>IFF_* flags (low 16 bits, as SIOCGIFFLAGS reports them).</summary>
    public int Flags { get; }
    /// <summary>Administratively up (IFF_UP).</summary>
    public bool IsAdminUp => (Flags & Libc.IFF_UP) != 0;
    /// <summary>Carrier present (for a veth: the peer is up too), from /sys/class/net/NAME/carrier. The kernel sets
    /// carrier synchronously; IFF_RUNNING follows it only after the asynchronous linkwatch work, so it can lag.</summary>
    public bool HasCarrier { get; }
    public bool IsPromiscuous => (Flags & Libc.IFF_PROMISC) != 0;
    public int RxQueues { get; }
    public int TxQueues { get; }

    public string MacText => string.Join(':', Mac.Select(b => b.ToString("x2")));

    /// <summary>Reads the interface <paramref name="name"/>. Throws <see cref="NetInterfaceException"/> when it does
    /// not exist or cannot be queried.</summary>
    public static unsafe NetInterface Get(string name)
    {
        int fd = ControlSocket(name);
        try
        {
            ifreq req = Request(name);
            Ioctl(fd, name, Libc.SIOCGIFINDEX, "SIOCGIFINDEX", ref req);
            int index = req.ifr_ifindex;

            req = Request(name);
            Ioctl(fd, name, Libc.SIOCGIFHWADDR, "SIOCGIFHWADDR", ref req);
            byte[] mac = req.ifr_hwaddr_family == Libc.ARPHRD_ETHER
                ? new ReadOnlySpan<byte>(req.ifr_hwaddr_data, 6).ToArray()
                : [];

            req = Request(name);
            Ioctl(fd, name, Libc.SIOCGIFMTU, "SIOCGIFMTU", ref req);
            int mtu = req.ifr_mtu;

            req = Request(name);
            Ioctl(fd, name, Libc.SIOCGIFFLAGS, "SIOCGIFFLAGS", ref req);
            int flags = (ushort)req.ifr_flags;

            (int rx, int tx) = CountQueues(name);
            return new NetInterface(name, index, mac, mtu, flags, ReadCarrier(name, flags), rx, tx);
        }
        finally
        {
            Libc.close(fd);
        }
    }

    /// <summary>Sets IFF_UP on <paramref name="name"/> (like <c>ip link set NAME up</c>); no-op when already up.
    /// Throws naming the interface when it does not exist or the caller lacks CAP_NET_ADMIN.</summary>
    public static void SetUp(string name)
    {
        int fd = ControlSocket(name);
        try
        {
            ifreq req = Request(name);
            Ioctl(fd, name, Libc.SIOCGIFFLAGS, "SIOCGIFFLAGS", ref req);
            if ((req.ifr_flags & Libc.IFF_UP) != 0) return;
            req.ifr_flags |= (short)Libc.IFF_UP;
            Ioctl(fd, name, Libc.SIOCSIFFLAGS, "SIOCSIFFLAGS (set up)", ref req);
        }
        finally
        {
            Libc.close(fd);
        }
    }

    /// <summary>Throws a <see cref="NetInterfaceException"/> naming the interface unless it is administratively and
    /// operationally up.</summary>
    public void RequireUp()
    {
        if (!IsAdminUp)
            throw new NetInterfaceException(Name, $"interface '{Name}' is administratively down (run 'ip link set {Name} up' or let FastTun bring it up)");
        if (!HasCarrier)
            throw new NetInterfaceException(Name, $"interface '{Name}' is up but has no carrier (operationally down; for a veth, is its peer up?)");
    }

    /// <summary>IPv4 addresses configured on this interface (via rtnetlink RTM_GETADDR).</summary>
    public IReadOnlyList<Ipv4Address> GetIpv4Addresses() => RtNetlink.GetIpv4Addresses(Index, Name);

    public override string ToString() =>
        $"{Name} index {Index} mac {MacText} mtu {Mtu} {(IsAdminUp ? "up" : "down")}{(HasCarrier ? " carrier" : " no-carrier")} rxq {RxQueues} txq {TxQueues}";

    private static int ControlSocket(string name)
    {
        if (string.IsNullOrEmpty(name) || Encoding.UTF8.GetByteCount(name) >= ifreq.IFNAMSIZ)
            throw new NetInterfaceException(name ?? "", $"interface name '{name}' is empty or longer than {ifreq.IFNAMSIZ - 1} bytes");
        int fd = Libc.socket(Libc.AF_INET, Libc.SOCK_DGRAM | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0) throw NetInterfaceException.FromErrno(name, "socket(AF_INET) for interface ioctls", Marshal.GetLastPInvokeError());
        return fd;
    }

    private static unsafe ifreq Request(string name)
    {
        ifreq req = default;
        Encoding.UTF8.GetBytes(name, new Span<byte>(req.ifr_name, ifreq.IFNAMSIZ - 1));
        return req;
    }

    private static unsafe void Ioctl(int fd, string name, uint request, string what, ref ifreq req)
    {
        fixed (ifreq* p = &req)
        {
            if (Libc.ioctl(fd, request, p) < 0)
                throw NetInterfaceException.FromErrno(name, what, Marshal.GetLastPInvokeError());
        }
    }

    private static bool ReadCarrier(string name, int flags)
    {
        if ((flags & Libc.IFF_UP) == 0) return false; // the sysfs file refuses reads (EINVAL) while down
        try
        {
            return File.ReadAllText($"/sys/class/net/{name}/carrier").Trim() == "1";
        }
        catch (IOException)
        {
            return (flags & Libc.IFF_RUNNING) != 0;
        }
    }

    private static (int Rx, int Tx) CountQueues(string name)
    {
        string dir = $"/sys/class/net/{name}/queues";
        if (!Directory.Exists(dir)) return (1, 1);
        int rx = 0, tx = 0;
        foreach (string entry in Directory.EnumerateDirectories(dir))
        {
            string leaf = Path.GetFileName(entry);
            if (leaf.StartsWith("rx-", StringComparison.Ordinal)) rx++;
            else if (leaf.StartsWith("tx-", StringComparison.Ordinal)) tx++;
        }
        return (Math.Max(rx, 1), Math.Max(tx, 1));
    }
}

/// <summary>One IPv4 address on an interface: the address (network byte order as a big-endian uint) and prefix.</summary>
public readonly record struct Ipv4Address(uint Address, int PrefixLength)
{
    public override string ToString() =>
        $"{Address >> 24}.{(Address >> 16) & 0xff}.{(Address >> 8) & 0xff}.{Address & 0xff}/{PrefixLength}";
}
