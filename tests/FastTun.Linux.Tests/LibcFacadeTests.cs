using System.Reflection;
using System.Runtime.CompilerServices;
using FastTun.Linux.Interop;
using TmdsLibC = Tmds.Linux.LibC;

namespace FastTun.Linux.Tests;

/// <summary>The <see cref="Libc"/> facade forwards to Tmds.LibC: the types it reinterprets must have the same
/// layout, its constants must agree with Tmds.LibC's, and errno must survive the forwarders.</summary>
public unsafe class LibcFacadeTests
{
    [Fact]
    public void Pollfd_Layout_MatchesTmdsPollfd()
    {
        Assert.Equal(8, sizeof(Libc.pollfd));
        Assert.Equal(sizeof(Libc.pollfd), sizeof(Tmds.Linux.pollfd));
        var p = new Libc.pollfd { fd = 7, events = Libc.POLLIN, revents = Libc.POLLERR };
        var t = Unsafe.As<Libc.pollfd, Tmds.Linux.pollfd>(ref p);
        Assert.Equal(7, t.fd);
        Assert.Equal(Libc.POLLIN, t.events);
        Assert.Equal(Libc.POLLERR, t.revents);
    }

    [Fact]
    public void ScalarTypes_Size_MatchNativeWords()
    {
        Assert.Equal(sizeof(nuint), sizeof(Tmds.Linux.size_t));
        Assert.Equal(sizeof(nint), sizeof(Tmds.Linux.ssize_t));
        Assert.Equal(sizeof(int), sizeof(Tmds.Linux.socklen_t));
        Assert.Equal(sizeof(long), sizeof(Tmds.Linux.off_t));
    }

    [Fact]
    public void Constants_SharedWithTmds_AreEqual()
    {
        int compared = 0;
        foreach (var field in typeof(Libc).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral))
        {
            var theirs = typeof(TmdsLibC).GetProperty(field.Name, BindingFlags.Public | BindingFlags.Static);
            if (theirs is null) continue;
            long ours = Convert.ToInt64(field.GetRawConstantValue());
            object? value = theirs.GetValue(null);
            long expected = value switch
            {
                IConvertible c => c.ToInt64(null),
                Pointer p => (long)Pointer.Unbox(p), // SIG_DFL and SIG_IGN are handler pointers there
                _ => Convert.ToInt64(value?.ToString()),
            };
            Assert.True(expected == ours, $"{field.Name}: FastTun {ours}, Tmds.LibC {expected}");
            compared++;
        }
        Assert.True(compared >= 20, $"only {compared} constants compared");
    }

    [Fact]
    public void Close_BadDescriptor_ReturnsMinusOneWithEbadf()
    {
        Assert.Equal(-1, Libc.close(-1));
        Assert.Equal(9, Libc.errno); // EBADF
    }

    [Fact]
    public void SendtoAndRecvfrom_BadDescriptor_ReturnMinusOneWithEbadf()
    {
        Assert.Equal(-1, Libc.sendto(-1, null, 0, Libc.MSG_DONTWAIT, null, 0));
        Assert.Equal(9, Libc.errno);
        Assert.Equal(-1, Libc.recvfrom(-1, null, 0, Libc.MSG_DONTWAIT, null, null));
        Assert.Equal(9, Libc.errno);
    }

    [Fact]
    public void SocketOptions_DatagramSocket_RoundTripAndPollReportsWritable()
    {
        int fd = Libc.socket(Libc.AF_INET, Libc.SOCK_DGRAM | Libc.SOCK_CLOEXEC, 0);
        Assert.True(fd >= 0, $"socket: errno {Libc.errno}");
        try
        {
            int size = 65536;
            Assert.Equal(0, Libc.setsockopt(fd, Libc.SOL_SOCKET, Libc.SO_SNDBUF, &size, sizeof(int)));
            int got = 0, len = sizeof(int);
            Assert.Equal(0, Libc.getsockopt(fd, Libc.SOL_SOCKET, Libc.SO_SNDBUF, &got, &len));
            Assert.Equal(sizeof(int), len);
            Assert.Equal(2 * size, got); // the kernel doubles the request for its bookkeeping

            var pfd = new Libc.pollfd { fd = fd, events = Libc.POLLOUT | Libc.POLLIN };
            Assert.Equal(1, Libc.poll(&pfd, 1, 0));
            Assert.Equal(Libc.POLLOUT, (short)(pfd.revents & (Libc.POLLOUT | Libc.POLLIN)));
        }
        finally
        {
            Assert.Equal(0, Libc.close(fd));
        }
    }

    [Fact]
    public void Mmap_AnonymousRegion_IsWritableAndUnmaps()
    {
        const int length = 1 << 20;
        void* map = Libc.mmap(null, length, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS, -1, 0);
        Assert.True((nint)map != Libc.MAP_FAILED, $"mmap: errno {Libc.errno}");
        ((byte*)map)[length - 1] = 0xAB;
        Assert.Equal(0xAB, ((byte*)map)[length - 1]);
        Assert.Equal(0, Libc.munmap(map, length));
    }
}
