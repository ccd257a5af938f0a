using FastTun.Gateway.Dataplane;
using FastTun.Linux.AfXdp;

namespace FastTun.Gateway.Tests;

public sealed class XdpIoModeTests
{
    [Fact]
    public void Options_Unset_NativeWhereAvailableWithoutBusyPolling()
    {
        var o = XdpIoMode.Options(null, null);
        Assert.Equal((XdpAttachMode.Auto, false), (o.AttachMode, o.BusyPoll));
    }

    [Theory]
    [InlineData("generic", "1", XdpAttachMode.Generic, true)]
    [InlineData("native", "0", XdpAttachMode.Native, false)]
    [InlineData(" Auto ", "", XdpAttachMode.Auto, false)]
    public void Options_ValidValues_Applied(string attach, string busy, XdpAttachMode mode, bool busyPoll)
    {
        var o = XdpIoMode.Options(attach, busy);
        Assert.Equal((mode, busyPoll), (o.AttachMode, o.BusyPoll));
    }

    [Theory]
    [InlineData("zerocopy", null, XdpIoMode.AttachVariable)]
    [InlineData(null, "yes", XdpIoMode.BusyPollVariable)]
    public void Options_BadValue_ThrowsNamingVariable(string? attach, string? busy, string variable)
    {
        var ex = Assert.Throws<InvalidOperationException>(() => XdpIoMode.Options(attach, busy));
        Assert.Contains(variable, ex.Message);
    }
}
