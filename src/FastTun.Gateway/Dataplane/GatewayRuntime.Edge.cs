using FastTun.Packets.Datapath;
using Microsoft.Extensions.Logging;

namespace FastTun.Gateway.Dataplane;

public sealed partial class GatewayRuntime
{
    private bool _offloadReported;

    /// <summary>Once per run: frames with unfinished (offloaded) checksums are arriving. Completed ones are fixed
    /// in software, fragments of such segments are dropped as partial-checksum; either way the sender should stop
    /// offloading onto a link that does not finish the checksum. Aging-timer thread.</summary>
    private void ReportOffloadOnce()
    {
        if (_offloadReported) return;
        long completed = 0, dropped = 0;
        foreach (var w in _workers)
        {
            completed += w.Pipeline.Counters.ChecksumsCompleted;
            dropped += w.Pipeline.Counters.Drops[(int)DropReason.PartialChecksum];
        }
        if (completed == 0 && dropped == 0) return;
        _offloadReported = true;
        _logger.LogWarning(
            "frames with partial (offloaded) TCP/UDP checksums are arriving: {Completed} completed in software, {Dropped} dropped as partial-checksum. " +
            "A sender hands unfinished checksums to a link that does not finish them (a veth, or a VM NIC with tx checksumming): " +
            "on the sending host run `ethtool -K <dev> tx off`", completed, dropped);
    }
}
