using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FastTun.Packets.Routing;

/// <summary>
/// Quiescent-state-based reclamation (as DPDK's rte_rcu_qsbr): lets a writer free memory that lock-free readers
/// might still hold, without readers paying a lock or an interlocked operation per lookup.
///
/// <para>Readers (worker threads) <see cref="Register"/> once and call <see cref="QsbrReader.Quiescent"/> at a
/// point where they hold no reference into the protected structure (once per worker loop: one plain store of the
/// current epoch into the reader's own cache line). A reader about to block (poll) goes
/// <see cref="QsbrReader.Offline"/> so it never holds the writer up, and <see cref="QsbrReader.Online"/> after.
/// The writer unpublishes memory, takes a token from <see cref="Retire"/>, and frees the memory once
/// <see cref="IsSafe"/> says every online reader has reported a quiescent state since (or waits with
/// <see cref="Synchronize"/>).</para>
/// </summary>
public sealed class Qsbr
{
    /// <summary>The domain the gateway's workers report to; tables use it unless given another.</summary>
    public static Qsbr Shared { get; } = new();

    private const ulong OfflineMark = 0;   // epochs start at 1, so 0 never names a real epoch
    private readonly Slot[] _slots;
    private readonly bool[] _used;          // writer-side bookkeeping, under _registration
    private readonly Lock _registration = new();
    private long _epoch = 1;
    private int _slotLimit;                 // 1 + highest slot ever registered: the writer scans only these

    public Qsbr(int maxReaders = 128)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxReaders);
        _slots = new Slot[maxReaders];
        _used = new bool[maxReaders];
    }

    /// <summary>Registers the calling reader, online. Not on the data path (a lock is fine here).</summary>
    public QsbrReader Register()
    {
        lock (_registration)
        {
            for (int i = 0; i < _used.Length; i++)
            {
                if (_used[i]) continue;
                _used[i] = true;
                // Release: the slot is online (below) only after the writer can see it is worth scanning.
                if (i >= _slotLimit) Volatile.Write(ref _slotLimit, i + 1);
                var reader = new QsbrReader(this, i);
                reader.Online();
                return reader;
            }
        }
        throw new InvalidOperationException($"more than {_slots.Length} QSBR readers registered");
    }

    internal void Unregister(int slot)
    {
        // Release: the reader's last reads of protected memory happen before the writer can see it gone.
        Volatile.Write(ref _slots[slot].Seen, OfflineMark);
        lock (_registration) _used[slot] = false;
    }

    internal ulong CurrentEpoch => (ulong)Volatile.Read(ref _epoch);   // acquire: pairs with Retire's increment

    internal ref ulong SeenOf(int slot) => ref _slots[slot].Seen;

    /// <summary>
    /// Call after unpublishing memory: returns the token to pass to <see cref="IsSafe"/>. The interlocked increment
    /// is a full fence, so the unpublishing stores are visible before any reader can report this epoch.
    /// </summary>
    public ulong Retire() => (ulong)Interlocked.Increment(ref _epoch);

    /// <summary>True once every online reader has passed a quiescent point after <paramref name="token"/> was taken.</summary>
    public bool IsSafe(ulong token) => OldestSeen() >= token;

    /// <summary>The smallest epoch any online reader last reported (ulong.MaxValue when none is online).</summary>
    public ulong OldestSeen()
    {
        ulong oldest = ulong.MaxValue;
        int limit = Volatile.Read(ref _slotLimit);   // acquire: pairs with Register's release
        for (int i = 0; i < limit; i++)
        {
            // Acquire, pairing with the reader's release store in Quiescent/Offline: what it read before is done.
            ulong seen = Volatile.Read(ref _slots[i].Seen);
            if (seen != OfflineMark && seen < oldest) oldest = seen;
        }
        return oldest;
    }

    /// <summary>Blocks the writer until memory retired under <paramref name="token"/> may be freed.</summary>
    public void Synchronize(ulong token)
    {
        var spin = new SpinWait();
        while (!IsSafe(token)) spin.SpinOnce();
    }

    /// <summary>One reader's report, alone on its cache line so readers never share a written line.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct Slot
    {
        [FieldOffset(64)] public ulong Seen;
    }
}

/// <summary>A registered reader of a <see cref="Qsbr"/> domain; owned by one thread.</summary>
public sealed class QsbrReader : IDisposable
{
    private readonly Qsbr _domain;
    private readonly int _slot;
    private bool _disposed;

    internal QsbrReader(Qsbr domain, int slot)
    {
        _domain = domain;
        _slot = slot;
    }

    /// <summary>
    /// "I hold no reference into protected memory now." One volatile load and one plain store (release on x64):
    /// no lock, no interlocked operation.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Quiescent() => Volatile.Write(ref _domain.SeenOf(_slot), _domain.CurrentEpoch);

    /// <summary>Before blocking (poll, sleep): the writer stops waiting for this reader.</summary>
    public void Offline() => Volatile.Write(ref _domain.SeenOf(_slot), 0);   // release: earlier reads are done

    /// <summary>
    /// After blocking, before the next lookup. The full fence orders the store of our epoch before our next loads
    /// of published pointers (store-load): either the writer sees us online, or we see its new pointers.
    /// </summary>
    public void Online()
    {
        Volatile.Write(ref _domain.SeenOf(_slot), _domain.CurrentEpoch);
        Interlocked.MemoryBarrier();
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _domain.Unregister(_slot);
    }
}
