using FastTun.Linux.Interop;

namespace FastTun.Linux.Tests;

public class LinuxExceptionTests
{
    [Fact]
    public void Message_Eperm_NamesOperationErrnoAndRoot()
    {
        var e = new LinuxException("socket(AF_PACKET) for eth1", 1);
        Assert.Contains("socket(AF_PACKET) for eth1", e.Message);
        Assert.Contains("Operation not permitted", e.Message);
        Assert.Contains("root", e.Message);
        Assert.Equal(1, e.Errno);
    }

    [Fact]
    public void Socket_BadFamily_SetsErrno()
    {
        int fd = Libc.socket(12345, Libc.SOCK_RAW, 0);
        Assert.Equal(-1, fd);
        var e = LinuxException.FromLastError("socket(12345)");
        Assert.Equal(97, e.Errno); // EAFNOSUPPORT
    }
}
