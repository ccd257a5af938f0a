using System.Runtime.InteropServices;
using System.Text;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace FastTun.Gateway.Cli;

/// <summary>
/// A connected AF_UNIX stream socket as a <see cref="Stream"/>, made with plain libc calls (Tmds.LibC). The CLI's
/// control client uses it instead of System.Net.Sockets, whose first use costs a short command about 9 ms of CPU
/// (assembly loads, the socket engine's epoll thread, telemetry EventSources) against under 1 ms for
/// socket/connect/send/recv here (bench/cli/startup.sh, RESULTS startup section). Blocking I/O, one reader.
/// </summary>
public sealed unsafe class UnixSocketStream : Stream
{
    private int _fd;

    private UnixSocketStream(int fd) => _fd = fd;

    /// <summary>Connects to <paramref name="path"/>; on failure throws <see cref="UnixSocketException"/> with the errno.</summary>
    public static UnixSocketStream Connect(string path)
    {
        var address = default(sockaddr_un);
        address.sun_family = (sa_family_t)AF_UNIX;
        int length = Encoding.UTF8.GetByteCount(path);
        if (length >= 108) throw new UnixSocketException(ENAMETOOLONG, $"'{path}' is longer than a Unix socket path may be");
        Encoding.UTF8.GetBytes(path, new Span<byte>(address.sun_path, 108));
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) throw UnixSocketException.FromErrno();
        while (connect(fd, (sockaddr*)&address, (socklen_t)sizeof(sockaddr_un)) != 0)
        {
            int error = errno;
            if (error == EINTR) continue;
            close(fd);
            throw new UnixSocketException(error, Marshal.GetPInvokeErrorMessage(error));
        }
        return new UnixSocketStream(fd);
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty) return 0;
        fixed (byte* p = buffer)
            while (true)
            {
                long n = recv(Fd, p, (size_t)buffer.Length, 0);
                if (n >= 0) return (int)n;
                if (errno != EINTR) throw new IOException(Marshal.GetPInvokeErrorMessage(errno));
            }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        fixed (byte* p = buffer)
            for (int done = 0; done < buffer.Length;)
            {
                long n = send(Fd, p + done, (size_t)(buffer.Length - done), MSG_NOSIGNAL);
                if (n >= 0) done += (int)n;
                else if (errno != EINTR) throw new IOException(Marshal.GetPInvokeErrorMessage(errno));
            }
    }

    /// <summary>shutdown(SHUT_WR): the peer reads end of stream; this side may still read. Safe from another thread
    /// while a read blocks (Ctrl-C ending a capture).</summary>
    public void ShutdownSend()
    {
        int fd = Volatile.Read(ref _fd); // against Dispose on the reading thread: a closed socket needs no shutdown
        if (fd >= 0) shutdown(fd, SHUT_WR);
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    private int Fd => _fd >= 0 ? _fd : throw new ObjectDisposedException(nameof(UnixSocketStream));

    protected override void Dispose(bool disposing)
    {
        int fd = Interlocked.Exchange(ref _fd, -1); // against ShutdownSend from a signal handler thread
        if (fd >= 0) close(fd);
        base.Dispose(disposing);
    }
}

/// <summary>A failed socket or connect call, with its errno.</summary>
public sealed class UnixSocketException(int errno, string message) : IOException(message)
{
    public int Errno { get; } = errno;

    internal static UnixSocketException FromErrno()
    {
        int error = LibC.errno;
        return new UnixSocketException(error, Marshal.GetPInvokeErrorMessage(error));
    }
}
