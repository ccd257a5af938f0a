using System.Runtime.CompilerServices;

namespace FastTun.Packets.Datapath;

/// <summary>
/// A burst of frame descriptors that the worker runs through every stage at once. Allocated once per
/// worker; never grows. Stages mark rejected frames with <see cref="Frame.Drop"/> instead of removing them,
/// so indices stay stable within a batch.
/// </summary>
public sealed class PacketBatch
{
    public const ushort NoPort = ushort.MaxValue;
    public const int MaxCapacity = 256;

    private readonly Frame[] _frames;

    public PacketBatch(int capacity = 64)
    {
        if (capacity is < 1 or > MaxCapacity)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"batch capacity must be 1..{MaxCapacity}");
        _frames = new Frame[capacity];
    }

    public int Count { get; set; }
    public int Capacity => _frames.Length;
    public bool IsFull => Count == _frames.Length;

    public ref Frame this[int index]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ref _frames[index];
    }

    /// <summary>The used descriptors, for loops that want a span.</summary>
    public Span<Frame> Frames => _frames.AsSpan(0, Count);

    /// <summary>Appends a descriptor; the caller has checked <see cref="IsFull"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref Frame Add()
    {
        ref Frame f = ref _frames[Count++];
        f = default;
        f.OutPort = NoPort;
        return ref f;
    }

    public void Clear() => Count = 0;
}
