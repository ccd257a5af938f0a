namespace FastTun.Traffic;

/// <summary>
/// Loss, reordering and duplicate accounting over per-flow sequence numbers (each flow counts from 0).
/// Per flow: the next expected sequence and a bitmap of the last <see cref="Window"/> sequences seen.
/// <list type="bullet">
/// <item>seq ≥ next: the sequences skipped (seq − next) become missing; next = seq + 1.</item>
/// <item>seq &lt; next, inside the window, not seen: a late (reordered) arrival; one missing fewer.</item>
/// <item>seq &lt; next, inside the window, seen: a duplicate.</item>
/// <item>seq older than the window: counted as late (reordered, one missing fewer); a duplicate that old
/// cannot be told apart, which is why the window is generous.</item>
/// </list>
/// Missing at the end is the loss the sink can see; frames lost after a flow's last arrival are only visible
/// to whoever knows how many were sent (the rfc2544 search compares with the generator's count).
/// Arrays are allocated once for the maximum flow count; <see cref="Record"/> never allocates.
/// </summary>
public sealed class TrafficFlowTracker
{
    public const int Window = 1024;
    private const int WindowWords = Window / 64;

    private readonly ulong[] _next;
    private readonly ulong[] _bits;
    private readonly bool[] _active;

    public TrafficFlowTracker(int maxFlows = 65536)
    {
        if (maxFlows is < 1 or > 65536) throw new ArgumentOutOfRangeException(nameof(maxFlows));
        _next = new ulong[maxFlows];
        _bits = new ulong[maxFlows * WindowWords];
        _active = new bool[maxFlows];
    }

    public long Received { get; private set; }
    /// <summary>Sequence numbers skipped and not (yet) filled by a late arrival.</summary>
    public long Missing { get; private set; }
    public long Reordered { get; private set; }
    public long Duplicates { get; private set; }
    public int Flows { get; private set; }
    /// <summary>Packets whose flow id is beyond the tracker's capacity (not accounted).</summary>
    public long Untracked { get; private set; }

    public void Record(ushort flow, ulong seq)
    {
        if (flow >= _next.Length)
        {
            Untracked++;
            return;
        }
        Received++;
        if (!_active[flow])
        {
            _active[flow] = true;
            Flows++;
        }
        ulong next = _next[flow];
        int baseWord = flow * WindowWords;
        if (seq >= next)
        {
            ulong gap = seq - next;
            Missing += (long)gap;
            // Clear the bits of the skipped sequences and of seq itself (they may hold marks from a window ago).
            if (gap + 1 >= Window)
            {
                Array.Clear(_bits, baseWord, WindowWords);
            }
            else
            {
                for (ulong s = next; s <= seq; s++) ClearBit(baseWord, s);
            }
            SetBit(baseWord, seq);
            _next[flow] = seq + 1;
            return;
        }
        if (next - seq > Window)
        {
            Reordered++;
            Missing--;
            return;
        }
        if (TestBit(baseWord, seq))
        {
            Duplicates++;
            return;
        }
        SetBit(baseWord, seq);
        Reordered++;
        Missing--;
    }

    private bool TestBit(int baseWord, ulong seq) =>
        (_bits[baseWord + (int)((seq / 64) % WindowWords)] & (1UL << (int)(seq % 64))) != 0;

    private void SetBit(int baseWord, ulong seq) =>
        _bits[baseWord + (int)((seq / 64) % WindowWords)] |= 1UL << (int)(seq % 64);

    private void ClearBit(int baseWord, ulong seq) =>
        _bits[baseWord + (int)((seq / 64) % WindowWords)] &= ~(1UL << (int)(seq % 64));
}
