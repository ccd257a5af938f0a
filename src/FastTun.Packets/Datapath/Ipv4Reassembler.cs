using FastTun.Packets.Headers;

namespace FastTun.Packets.Datapath;

public enum ReassemblyStatus : byte
{
    /// <summary>Stored; the datagram is not complete yet.</summary>
    Pending,
    /// <summary>The datagram is complete and was handed out.</summary>
    Complete,
    /// <summary>Rejected; the reason says why. The datagram's other fragments are discarded too.</summary>
    Dropped,
}

/// <summary>
/// Reassembles IPv4 fragments addressed to the gateway (outer tunnel fragments, fragmented pings) in bounded
/// memory: at most <see cref="MaxDatagrams"/> datagrams at once, each in one buffer of a dedicated
/// <see cref="FramePool"/> of 64 KiB frames, abandoned after <see cref="TimeoutMs"/> (Linux ipfrag_time, 30 s).
/// Arrival is tracked in a bitmap of 8-byte blocks. Overlapping fragments drop the whole datagram, as Linux does
/// since the FragmentSmack fixes; exact duplicates are ignored. One per worker: not thread-safe.
/// </summary>
public sealed class Ipv4Reassembler : IDisposable
{
    public const int MaxDatagramBytes = 65535;
    private const int MaxHeader = 60;
    private const int Blocks = (MaxDatagramBytes + 7) / 8;

    private readonly FramePool _pool;
    private readonly Context[] _contexts;

    public Ipv4Reassembler(int maxDatagrams = 16, long timeoutMs = 30_000)
    {
        MaxDatagrams = maxDatagrams;
        TimeoutMs = timeoutMs;
        _pool = new FramePool(maxDatagrams, FramePool.DefaultHeadroom + MaxHeader + MaxDatagramBytes + 64, FramePool.DefaultHeadroom);
        _contexts = new Context[maxDatagrams];
        for (int i = 0; i < maxDatagrams; i++) _contexts[i] = new Context();
    }

    public int MaxDatagrams { get; }
    public long TimeoutMs { get; }
    public int InProgress { get; private set; }

    private sealed class Context
    {
        public bool Active;
        public uint Source, Destination;
        public ushort Id;
        public byte Protocol;
        public long StartedMs;
        public int TotalPayload = -1; // known once the last fragment (MF = 0) arrives
        public int HeaderLength;      // of the offset-0 fragment, 0 until it arrives
        public Frame Frame;
        public readonly ulong[] Arrived = new ulong[(Blocks + 63) / 64];
    }

    /// <summary>
    /// Adds one fragment (<paramref name="fragment"/> starts at its IPv4 header, already validated). On
    /// <see cref="ReassemblyStatus.Complete"/>, <paramref name="datagram"/> holds the whole datagram (data starting
    /// at its IPv4 header) in a frame the caller gives back with <see cref="Return"/>.
    /// </summary>
    public ReassemblyStatus Add(Span<byte> fragment, long nowMs, ref Frame datagram, out DropReason reason)
    {
        reason = DropReason.None;
        if (!Ipv4Header.TryParse(fragment, out var ip)) { reason = DropReason.FragmentMalformed; return ReassemblyStatus.Dropped; }
        int offset = ip.FragmentOffset;
        int length = ip.TotalLength - ip.HeaderLength;
        bool more = ip.MoreFragments;
        if ((more && (length & 7) != 0) || length == 0 && more || offset + length > MaxDatagramBytes - ip.HeaderLength)
        {
            reason = DropReason.FragmentMalformed;
            return ReassemblyStatus.Dropped;
        }

        var ctx = FindOrStart(ip.Source, ip.Destination, ip.Identification, ip.Protocol, nowMs);
        if (ctx is null) { reason = DropReason.ReassemblyOverflow; return ReassemblyStatus.Dropped; }

        int firstBlock = offset >> 3;
        int endBlock = (offset + length + 7) >> 3;
        int known = CountSet(ctx.Arrived, firstBlock, endBlock);
        if (known == endBlock - firstBlock && known > 0 && IsConsistentDuplicate(ctx, offset, length, more))
        {
            return ReassemblyStatus.Pending; // exact duplicate: ignore, as Linux does
        }
        if (known != 0 || (!more && ctx.TotalPayload >= 0 && ctx.TotalPayload != offset + length)
            || (ctx.TotalPayload >= 0 && offset + length > ctx.TotalPayload))
        {
            Abandon(ctx);
            reason = DropReason.ReassemblyBad;
            return ReassemblyStatus.Dropped;
        }

        var frame = ctx.Frame;
        unsafe
        {
            var payloadBase = new Span<byte>((byte*)frame.Buffer + FramePool.DefaultHeadroom + MaxHeader, MaxDatagramBytes);
            ip.Payload.CopyTo(payloadBase.Slice(offset));
            if (offset == 0)
            {
                ctx.HeaderLength = ip.HeaderLength;
                ip.Bytes.CopyTo(new Span<byte>((byte*)frame.Buffer + FramePool.DefaultHeadroom + MaxHeader - ip.HeaderLength, ip.HeaderLength));
            }
        }
        SetRange(ctx.Arrived, firstBlock, endBlock);
        if (!more) ctx.TotalPayload = offset + length;

        if (ctx.TotalPayload < 0 || ctx.HeaderLength == 0) return ReassemblyStatus.Pending;
        int needBlocks = (ctx.TotalPayload + 7) >> 3;
        if (CountSet(ctx.Arrived, 0, needBlocks) != needBlocks) return ReassemblyStatus.Pending;
        if (ctx.HeaderLength + ctx.TotalPayload > MaxDatagramBytes)
        {
            Abandon(ctx);
            reason = DropReason.ReassemblyBad;
            return ReassemblyStatus.Dropped;
        }

        datagram = ctx.Frame;
        datagram.Offset = FramePool.DefaultHeadroom + MaxHeader - ctx.HeaderLength;
        datagram.Length = ctx.HeaderLength + ctx.TotalPayload;
        Ipv4Header.TryParse(datagram.Data, out var whole);
        whole.TotalLength = (ushort)datagram.Length;
        whole.FlagsAndFragment = (ushort)(whole.FlagsAndFragment & Ipv4Header.FlagDontFragment);
        whole.ComputeChecksum();
        ctx.Active = false; // the frame now belongs to the caller
        InProgress--;
        return ReassemblyStatus.Complete;
    }

    /// <summary>Gives back a frame handed out as a completed datagram.</summary>
    public void Return(in Frame datagram) => _pool.Return(datagram);

    /// <summary>Abandons datagrams older than the timeout; returns how many (count them as ReassemblyTimeout).</summary>
    public int Expire(long nowMs)
    {
        int n = 0;
        foreach (var ctx in _contexts)
        {
            if (ctx.Active && nowMs - ctx.StartedMs >= TimeoutMs)
            {
                Abandon(ctx);
                n++;
            }
        }
        return n;
    }

    private Context? FindOrStart(uint src, uint dst, ushort id, byte proto, long nowMs)
    {
        Context? free = null;
        foreach (var ctx in _contexts)
        {
            if (!ctx.Active) { free ??= ctx; continue; }
            if (ctx.Source == src && ctx.Destination == dst && ctx.Id == id && ctx.Protocol == proto) return ctx;
        }
        if (free is null) return null;
        Frame f = default;
        if (!_pool.TryRent(ref f)) return null;
        free.Active = true;
        free.Source = src; free.Destination = dst; free.Id = id; free.Protocol = proto;
        free.StartedMs = nowMs;
        free.TotalPayload = -1;
        free.HeaderLength = 0;
        free.Frame = f;
        Array.Clear(free.Arrived);
        InProgress++;
        return free;
    }

    private static bool IsConsistentDuplicate(Context ctx, int offset, int length, bool more) =>
        more || ctx.TotalPayload == offset + length;

    private void Abandon(Context ctx)
    {
        if (!ctx.Active) return;
        _pool.Return(ctx.Frame);
        ctx.Active = false;
        InProgress--;
    }

    private static void SetRange(ulong[] bits, int from, int to)
    {
        for (int b = from; b < to; b++) bits[b >> 6] |= 1UL << (b & 63);
    }

    private static int CountSet(ulong[] bits, int from, int to)
    {
        int n = 0;
        for (int b = from; b < to; b++) if ((bits[b >> 6] & (1UL << (b & 63))) != 0) n++;
        return n;
    }

    public void Dispose() => _pool.Dispose();
}
