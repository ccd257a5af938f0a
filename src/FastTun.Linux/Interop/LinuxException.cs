namespace FastTun.Linux.Interop;

/// <summary>
/// A failed system call during setup, carrying errno and a message that names what was being done
/// ("setsockopt(PACKET_RX_RING) on eth1: Operation not permitted"). The data path never throws: it returns codes.
/// </summary>
public sealed class LinuxException : Exception
{
    public LinuxException(string operation, int errno)
        : base($"{operation}: {Libc.strerror(errno)} (errno {errno}){Hint(errno)}")
    {
        Operation = operation;
        Errno = errno;
    }

    public string Operation { get; }
    public int Errno { get; }

    /// <summary>Throws for the errno of the P/Invoke that just failed.</summary>
    public static LinuxException FromLastError(string operation) => new(operation, Libc.errno);

    private static string Hint(int errno) => errno switch
    {
        Libc.EPERM or Libc.EACCES => " — FastTun needs root (CAP_NET_RAW, CAP_NET_ADMIN, CAP_BPF)",
        _ => "",
    };
}
