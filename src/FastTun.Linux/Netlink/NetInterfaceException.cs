using FastTun.Linux.Interop;

namespace FastTun.Linux.Netlink;

/// <summary>Setup-time failure about one network interface; the message always names the interface and says what to
/// do (missing interface, missing privilege, link down). <see cref="Errno"/> is 0 when no syscall failed.</summary>
public sealed class NetInterfaceException : Exception
{
    public NetInterfaceException(string interfaceName, string message, int errno = 0)
        : base(message)
    {
        InterfaceName = interfaceName;
        Errno = errno;
    }

    public string InterfaceName { get; }
    public int Errno { get; }

    /// <summary>Turns errno from an operation on <paramref name="name"/> into a message that names it.</summary>
    internal static NetInterfaceException FromErrno(string name, string operation, int errno) => errno switch
    {
        Libc.ENODEV or Libc.ENXIO => new(name, $"interface '{name}' does not exist ({operation}: {Libc.strerror(errno)})", errno),
        Libc.EPERM or Libc.EACCES => new(name,
            $"no permission for {operation} on interface '{name}': {Libc.strerror(errno)} — FastTun needs root (CAP_NET_ADMIN, CAP_NET_RAW)", errno),
        _ => new(name, $"{operation} on interface '{name}' failed: {Libc.strerror(errno)} (errno {errno})", errno),
    };
}
