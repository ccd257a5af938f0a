using FastTun.Linux.Interop;

namespace FastTun.Linux.Tests;

/// <summary><see cref="InheritedSignals"/>: a signal this process holds ignored goes back to its default disposition; a
/// signal that is handled or at its default is left as it is. Uses SIGUSR2, which neither .NET nor xunit handles.</summary>
public class InheritedSignalsTests
{
    private const int SIGUSR2 = 12;

    private static ulong Mask(string line) =>
        Convert.ToUInt64(File.ReadAllLines("/proc/self/status").Single(l => l.StartsWith(line, StringComparison.Ordinal))[line.Length..].Trim(), 16);

    [Fact]
    public void IgnoredMask_StatusText_ReadsSigIgnAsHex()
    {
        Assert.Equal(0x1007UL, InheritedSignals.IgnoredMask("Name:\tfasttun\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000001007\nSigCgt:\t00000003000244f8\n"));
        Assert.Equal(0UL, InheritedSignals.IgnoredMask("Name:\tfasttun\n"));
    }

    [Fact]
    public void Reclaim_IgnoredSignal_BackToDefaultAndReported()
    {
        lock (typeof(InheritedSignalsTests))
        {
            Assert.NotEqual(-1, Libc.signal(SIGUSR2, Libc.SIG_IGN));
            try
            {
                Assert.NotEqual(0UL, Mask("SigIgn:") & (1UL << (SIGUSR2 - 1)));
                Assert.Equal([SIGUSR2], InheritedSignals.Reclaim(Libc.SIGTERM, SIGUSR2));
                Assert.Equal(0UL, Mask("SigIgn:") & (1UL << (SIGUSR2 - 1)));
                Assert.Empty(InheritedSignals.Reclaim(SIGUSR2)); // at its default now: nothing to take back
            }
            finally
            {
                Libc.signal(SIGUSR2, Libc.SIG_DFL);
            }
        }
    }

    [Fact]
    public void Reclaim_HandledSignal_LeftHandled()
    {
        // .NET handles SIGTERM in every process (AppDomain.ProcessExit): resetting it would take the runtime's handler away.
        Assert.NotEqual(0UL, Mask("SigCgt:") & (1UL << (Libc.SIGTERM - 1)));
        Assert.Empty(InheritedSignals.Reclaim(Libc.SIGTERM));
        Assert.NotEqual(0UL, Mask("SigCgt:") & (1UL << (Libc.SIGTERM - 1)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(64)]
    public void Reclaim_NumberOutOfRange_Throws(int signal) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => InheritedSignals.Reclaim(signal));

    [Fact]
    public void Name_KnownAndOther()
    {
        Assert.Equal("SIGHUP", InheritedSignals.Name(Libc.SIGHUP));
        Assert.Equal("SIGINT", InheritedSignals.Name(Libc.SIGINT));
        Assert.Equal("signal 12", InheritedSignals.Name(SIGUSR2));
    }
}
