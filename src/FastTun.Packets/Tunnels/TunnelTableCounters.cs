using System.Runtime.CompilerServices;
using FastTun.Packets.Routing;

namespace FastTun.Packets.Tunnels;

/// <summary>
/// One tunnel's decapsulation counters (packets and inner bytes) and its outer-source verdict, one 32-byte entry per
/// worker (one cache line holds it: the line the decap run touches per spoke anyway), in
/// <see cref="DecapCounterStore"/>'s native memory: worker <c>w</c>'s entry is at
/// <see cref="Worker0"/> + w × <see cref="DecapCounterStore.WorkerStride"/>, so one worker's entries of all tunnels
/// lie side by side (a hub of 10,000 tunnels: 320 KB per worker, on huge pages) instead of one cache line per
/// tunnel and worker spread over the heap between the tunnels' other objects. Each entry has one writer (its
/// worker); readers sum the workers (<see cref="Packets"/>, <see cref="Bytes"/>). Fields 2 and 3 are the worker's
/// cached source check of the tunnel's remote (<see cref="VerdictEpochField"/>, <see cref="VerdictKeyField"/>).
/// <para>Shared by a tunnel rebuilt from changed settings with its predecessor, as the other running state; the
/// entries go back to the store when the last tunnel holding them is collected (finalizer), so a worker that still
/// holds a table snapshot naming the tunnel can never write an entry that another tunnel has been given.</para>
/// </summary>
internal sealed unsafe class DecapCounters
{
    private readonly int _index;

    public DecapCounters(int workers, DecapCounters? carryOver = null)
    {
        if (workers is < 1 or > Tunnel.MaxWorkers)
        {
            // The object exists and is registered for finalization even when its constructor throws: without this
            // the finalizer would return index 0 (the default), which a live tunnel holds, and two tunnels would
            // then share one set of counters.
            GC.SuppressFinalize(this);
            throw new ArgumentOutOfRangeException(nameof(workers), workers, $"1 to {Tunnel.MaxWorkers} workers");
        }
        Workers = workers;
        _index = DecapCounterStore.Rent(out byte* entry);
        Worker0 = (nint)entry;
        if (carryOver is not null && (carryOver.Packets | carryOver.Bytes) != 0)
        {
            Entry(0)[0] = carryOver.Packets;
            Entry(0)[1] = carryOver.Bytes;
        }
    }

    /// <summary>Entry field (long) of the pipeline's source-verdict epoch the cached verdict was made in (0: none). Each
    /// epoch is one pipeline's view of one (forwarding state, route-table version), never reused.</summary>
    public const int VerdictEpochField = 2;
    /// <summary>Entry field (long) of the cached verdict's key and answer: outer source &lt;&lt; 32 | in-port &lt;&lt; 16 |
    /// DropReason (None, MartianSource or RpFilter).</summary>
    public const int VerdictKeyField = 3;

    /// <summary><see cref="VerdictKeyField"/>'s key part for (<paramref name="source"/>, <paramref name="inPort"/>): the
    /// field holds it with the verdict (a DropReason) in its low 16 bits, so a cached None equals the key itself.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong VerdictKey(uint source, ushort inPort) => ((ulong)source << 32) | ((ulong)inPort << 16);

    /// <summary>Address of worker 0's entry: packets (long), inner bytes (long), then the verdict fields.</summary>
    public nint Worker0 { get; }
    public int Workers { get; }

    public long Packets => Sum(0);
    public long Bytes => Sum(1);

    /// <summary>Worker <paramref name="worker"/>'s entry.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long* Entry(int worker) => (long*)(Worker0 + worker * (nint)DecapCounterStore.WorkerStride);

    private long Sum(int field)
    {
        long sum = 0;
        for (int w = 0; w < Workers; w++) sum += Volatile.Read(ref Entry(w)[field]); // racy read of a single-writer counter
        return sum;
    }

    ~DecapCounters()
    {
        if (Worker0 == 0) return; // never rented (a constructor that threw before Rent)
        // Nothing writes the entries any more (the GC proved it): leave them zero for the next tunnel. Only nonzero
        // entries are written, so the pages of workers that never counted stay uncommitted.
        for (int w = 0; w < Workers; w++)
        {
            long* e = Entry(w);
            if (e[0] != 0 || e[1] != 0) { e[0] = 0; e[1] = 0; }
            if (e[VerdictEpochField] != 0 || e[VerdictKeyField] != 0) { e[VerdictEpochField] = 0; e[VerdictKeyField] = 0; }
        }
        DecapCounterStore.Return(_index);
    }
}

/// <summary>
/// The process's native memory for <see cref="DecapCounters"/>: chunks of <see cref="ChunkEntries"/> tunnels, each a
/// <see cref="NativeRegion"/> (huge-page advice, pages committed when first touched) laid out worker-major: worker 0's
/// entries of the chunk's tunnels, then worker 1's, … (<see cref="WorkerStride"/> apart), room for
/// <see cref="Tunnel.MaxWorkers"/> workers reserved, only the running workers' part ever touched. Indices freed by a
/// collected tunnel are reused first, so a running hub's counters stay dense. Control plane only (a lock, no
/// allocation on the datapath); chunks live as long as the process.
/// </summary>
internal static unsafe class DecapCounterStore
{
    public const int EntryBytes = 32;
    public const int ChunkEntries = 1 << 16;
    /// <summary>Bytes from one worker's entry of a tunnel to the next worker's (2 MiB).</summary>
    public const nuint WorkerStride = (nuint)ChunkEntries * EntryBytes;

    private static readonly object Gate = new();
    private static readonly List<NativeRegion> Chunks = new();
    private static readonly Stack<int> Free = new();
    private static int _next;

    /// <summary>Entries ever handed out and not returned (tests and the memory report).</summary>
    public static int InUse { get { lock (Gate) return _next - Free.Count; } }

    /// <summary>A free index, all of whose entries are zero (fresh mapped memory, or zeroed by the collected
    /// tunnel's finalizer), and the address of worker 0's entry. Touches no page: a tunnel built for
    /// <see cref="Tunnel.MaxWorkers"/> workers (the default) commits only the pages of the workers that count.</summary>
    public static int Rent(out byte* worker0)
    {
        lock (Gate)
        {
            int index;
            if (Free.Count > 0) index = Free.Pop();
            else
            {
                index = _next++;
                if (index / ChunkEntries == Chunks.Count) Chunks.Add(new NativeRegion(WorkerStride * Tunnel.MaxWorkers));
            }
            worker0 = Chunks[index / ChunkEntries].Base + (nuint)(index % ChunkEntries) * EntryBytes;
            return index;
        }
    }

    public static void Return(int index)
    {
        lock (Gate) Free.Push(index);
    }
}
