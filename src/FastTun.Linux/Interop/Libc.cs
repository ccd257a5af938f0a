namespace FastTun.Linux.Interop;

/// <summary>
/// FastTun's libc facade. The plain calls (socket, bind, setsockopt, getsockopt, mmap, munmap, madvise, poll, sendto,
/// recvfrom, ioctl, close, geteuid, errno) go through Tmds.LibC, the design card's syscall package; each file
/// under Interop/ is a one-line, inlined forwarder that keeps FastTun's blittable signatures (void*, int,
/// nuint) so call sites stay as they were. LibraryImport (<see cref="Name"/>) remains only for what
/// Tmds.LibC 0.5.0 lacks: sendmmsg, gettid, setpriority, if_nametoindex, strerror, signal, and the native shim.
/// Both paths capture errno the same way (SetLastError), read through <see cref="errno"/>.
/// </summary>
internal static partial class Libc
{
    public const string Name = "libc";

    // Address and protocol families.
    public const int AF_UNIX = 1;
    public const int AF_INET = 2;
    public const int AF_NETLINK = 16;
    public const int AF_PACKET = 17;
    public const int AF_XDP = 44;

    public const int SOCK_STREAM = 1;
    public const int SOCK_DGRAM = 2;
    public const int SOCK_RAW = 3;
    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;

    public const int SOL_SOCKET = 1;
    public const int SO_SNDBUF = 7;
    public const int SO_RCVBUF = 8;
    public const int SO_SNDBUFFORCE = 32;
    public const int SO_RCVBUFFORCE = 33;
    public const int SO_PEERCRED = 17;
    public const int SO_BUSY_POLL = 46;
    public const int SO_PREFER_BUSY_POLL = 69;
    public const int SO_BUSY_POLL_BUDGET = 70;

    public const int PROT_READ = 1;
    public const int PROT_WRITE = 2;
    public const int MAP_SHARED = 1;
    public const int MAP_PRIVATE = 2;
    public const int MAP_ANONYMOUS = 0x20;
    public const int MAP_POPULATE = 0x8000;
    public static readonly nint MAP_FAILED = -1;

    public const short POLLIN = 0x1;
    public const short POLLOUT = 0x4;
    public const short POLLERR = 0x8;

    public const int MSG_DONTWAIT = 0x40;

    // errno values the data path checks for.
    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int ENOBUFS = 105;
    public const int EBUSY = 16;
    public const int ENETDOWN = 100;
    public const int ENXIO = 6;
    public const int ENODEV = 19;
    public const int EPERM = 1;
    public const int EACCES = 13;
}
