using FastTun.Packets.Datapath;
using FastTun.Packets.Tunnels;

namespace FastTun.Benchmarks;

/// <summary>The per-packet loops the tunnel benchmarks share, so a one-tunnel and a 10,000-tunnel figure come from
/// the same code.</summary>
internal static class TunnelBenchLoops
{
    /// <summary>Decapsulates a copy of every descriptor of <paramref name="source"/> (the bytes are restored by the
    /// caller's setup) and returns the inner bytes delivered, so the work cannot be optimised away.</summary>
    public static long Decap(TunnelTable table, Frame[] source, Frame[] work)
    {
        long bytes = 0;
        for (int i = 0; i < work.Length; i++)
        {
            ref Frame f = ref work[i];
            f = source[i];
            if (TunnelDecap.Decapsulate(table, ref f, out _) == DropReason.None) bytes += f.Length;
        }
        return bytes;
    }

    /// <summary>As <see cref="Decap"/>, a worker batch (64 frames) at a time through
    /// <see cref="TunnelDecap.DecapsulateBatch"/>, whose prefetch passes overlap the batch's misses.</summary>
    public static long DecapBatch(TunnelTable table, Frame[] source, Frame[] work)
    {
        const int Batch = 64;
        long bytes = 0;
        for (int start = 0; start < work.Length; start += Batch)
        {
            int n = Math.Min(Batch, work.Length - start);
            Array.Copy(source, start, work, start, n);
            var frames = work.AsSpan(start, n);
            TunnelDecap.DecapsulateBatch(table, frames);
            foreach (ref Frame f in frames) if (f.Drop == DropReason.None) bytes += f.Length;
        }
        return bytes;
    }
}
