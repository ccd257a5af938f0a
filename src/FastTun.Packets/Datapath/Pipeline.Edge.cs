using System.Runtime.CompilerServices;
using FastTun.Packets.Checksum;

namespace FastTun.Packets.Datapath;

public sealed partial class Pipeline
{
    /// <summary>
    /// edge hook (offload): a TCP/UDP packet from a port whose checksum a sender's offload left unfinished is
    /// completed in place (<see cref="WorkerCounters.ChecksumsCompleted"/>), or dropped as
    /// <see cref="DropReason.PartialChecksum"/> when it cannot be (a fragment). False when dropped. The control plane
    /// logs the first occurrence with the remedy; nothing is logged here.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool CompleteOffloadedChecksum(ref Frame f)
    {
        var result = PartialChecksum.CompleteIfPartial(f.Data);
        if (result == PartialChecksumResult.NotPartial) return true;
        if (result == PartialChecksumResult.Completed)
        {
            Counters.ChecksumsCompleted++;
            return true;
        }
        f.Drop = DropReason.PartialChecksum;
        return false;
    }
}
