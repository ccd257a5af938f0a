using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using FastTun.Linux.Interop;

namespace FastTun.Benchmarks;

/// <summary>
/// The data path's libc calls (the tx kick sendto(fd, NULL, 0, MSG_DONTWAIT) and a zero-timeout poll) through
/// FastTun's Libc facade, which forwards to Tmds.LibC's DllImports, against the LibraryImport declarations
/// FastTun used before (the baseline, declared here). Both make the same system call on the same socket, so the
/// difference is the binding: stub, SetLastError capture and the facade's struct-wrapped arguments.
/// </summary>
[Config(typeof(BenchConfig))]
public unsafe partial class LibcCallBenchmarks
{
    private const int Calls = 64;
    private int _fd;

    [GlobalSetup]
    public void Setup()
    {
        // An unconnected UDP socket: sendto without an address fails with EDESTADDRREQ inside the kernel after
        // the full syscall entry, which is what an AF_XDP kick costs apart from the driver's own work.
        _fd = Libc.socket(Libc.AF_INET, Libc.SOCK_DGRAM | Libc.SOCK_CLOEXEC, 0);
        if (_fd < 0) throw new LinuxException("socket(AF_INET, SOCK_DGRAM)", Libc.errno);
    }

    [GlobalCleanup]
    public void Cleanup() => Libc.close(_fd);

    [Benchmark(Baseline = true, OperationsPerInvoke = Calls)]
    public long SendtoKick_LibraryImport()
    {
        long sum = 0;
        for (int i = 0; i < Calls; i++) sum += sendto_libraryimport(_fd, null, 0, Libc.MSG_DONTWAIT, null, 0);
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Calls)]
    public long SendtoKick_TmdsLibC()
    {
        long sum = 0;
        for (int i = 0; i < Calls; i++) sum += Libc.sendto(_fd, null, 0, Libc.MSG_DONTWAIT, null, 0);
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Calls)]
    public long Poll_LibraryImport()
    {
        var pfd = new Libc.pollfd { fd = _fd, events = Libc.POLLIN };
        long sum = 0;
        for (int i = 0; i < Calls; i++) sum += poll_libraryimport(&pfd, 1, 0);
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Calls)]
    public long Poll_TmdsLibC()
    {
        var pfd = new Libc.pollfd { fd = _fd, events = Libc.POLLIN };
        long sum = 0;
        for (int i = 0; i < Calls; i++) sum += Libc.poll(&pfd, 1, 0);
        return sum;
    }

    [LibraryImport("libc", EntryPoint = "sendto", SetLastError = true)]
    private static partial nint sendto_libraryimport(int fd, void* buf, nuint len, int flags, void* destAddr, int addrlen);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int poll_libraryimport(Libc.pollfd* fds, nuint nfds, int timeout);
}
