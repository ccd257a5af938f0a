using FastTun.Linux.AfXdp;

namespace FastTun.Gateway.Dataplane;

/// <summary>
/// The AF_XDP I/O mode the gateway opens its ports with. The defaults are the fastest measured on veth (see
/// bench/RESULTS.md, section "ports"): the XDP program in native (driver) mode where the driver has it, and
/// need_wakeup with poll(2) rather than busy polling. Two environment variables override them for measuring
/// and for drivers that behave differently:
/// <c>FASTTUN_XDP_ATTACH=auto|native|generic</c> and <c>FASTTUN_XDP_BUSY_POLL=0|1</c>.
/// </summary>
public static class XdpIoMode
{
    public const string AttachVariable = "FASTTUN_XDP_ATTACH";
    public const string BusyPollVariable = "FASTTUN_XDP_BUSY_POLL";

    public static AfXdpOptions Options() => Options(Environment.GetEnvironmentVariable(AttachVariable),
        Environment.GetEnvironmentVariable(BusyPollVariable));

    /// <summary>Options from the two variables' values (null = unset). Throws naming the variable on a bad value.</summary>
    public static AfXdpOptions Options(string? attach, string? busyPoll)
    {
        var mode = attach?.Trim().ToLowerInvariant() switch
        {
            null or "" or "auto" => XdpAttachMode.Auto,
            "native" or "driver" => XdpAttachMode.Native,
            "generic" or "skb" => XdpAttachMode.Generic,
            _ => throw new InvalidOperationException($"{AttachVariable}='{attach}': expected auto, native or generic"),
        };
        bool busy = busyPoll?.Trim() switch
        {
            null or "" or "0" => false,
            "1" => true,
            _ => throw new InvalidOperationException($"{BusyPollVariable}='{busyPoll}': expected 0 or 1"),
        };
        return new AfXdpOptions { AttachMode = mode, BusyPoll = busy };
    }
}
