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
}
