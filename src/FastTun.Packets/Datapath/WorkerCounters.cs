namespace FastTun.Packets.Datapath;

/// <summary>
/// Counters of one worker. Written only by that worker with plain increments (no atomics on the hot path);
/// the control plane reads them racily and may see a value one batch old, which is fine for statistics.
/// 64-bit loads and stores are atomic on x86-64 and arm64, so a reader never sees a torn count.
/// </summary>
public sealed class WorkerCounters
{
    public readonly long[] Drops = new long[(int)DropReason.Count];
    public long Batches;
    public long Packets;
    /// <summary>Stopwatch ticks spent processing non-empty batches; busy ratio = BusyTicks / wall ticks.</summary>
    public long BusyTicks;
    /// <summary>Rx frames sent on (forwarded, or answered in place: ARP and echo replies).</summary>
    public long Forwarded;
    /// <summary>Rx frames that ended inside the gateway without a drop: an ARP reply learned, a fragment stored or
    /// reassembled, a packet parked for ARP or split into fragments, ICMP for us. With <see cref="Forwarded"/> and
    /// <see cref="RxDropped"/> it accounts for every frame in <see cref="Packets"/> exactly once.</summary>
    public long Consumed;
    /// <summary>Rx frames dropped by the pipeline (each also counted under its reason in <see cref="Drops"/>, which
    /// also counts drops of frames the gateway made or parked).</summary>
    public long RxDropped;
    public long LocalDelivered;
    /// <summary>TCP/UDP checksums a sender's offload left partial, completed by the pipeline.</summary>
    public long ChecksumsCompleted;
    public long IcmpSent;
    public long ArpSent;

    public void Drop(DropReason reason) => Drops[(int)reason]++;

    public long TotalDrops()
    {
        long sum = 0;
        for (int i = 1; i < Drops.Length; i++) sum += Drops[i];
        return sum;
    }
}
