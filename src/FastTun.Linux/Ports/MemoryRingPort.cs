using System.Diagnostics;
using System.Runtime.InteropServices;
using FastTun.Linux.AfXdp;
using FastTun.Linux.Interop;

namespace FastTun.Linux.Ports;

/// <summary>Receives each frame the memory "NIC" transmits (tests; the benchmark leaves it null).</summary>
public delegate void MemoryFrameSink(ReadOnlySpan<byte> frame, ulong umemAddress);

/// <summary>
/// A port that behaves like one zero-copy NIC queue, over memory: fill, rx, tx and completion rings over an
/// <see cref="XdpUmem"/>, driven by the same user-side code as <see cref="AfXdpPort"/> (<see cref="UmemPort"/>),
/// with the "NIC" side in the same process and on the same thread. The NIC runs only when the user side asks
/// (need_wakeup is always set): an empty rx burst makes it "receive" up to a ring of frames into fill-ring
/// buffers, and every tx burst makes it "transmit" what the tx ring holds and return the buffers through the
/// completion ring. It is FastTun's bare-metal projection: everything a zero-copy NIC queue costs the host,
/// except the DMA itself.
///
/// What stands in for the DMA: <see cref="SetRxTraffic"/> writes one full frame into every UMEM buffer once;
/// each "reception" then rewrites only the first <c>headerBytes</c> (the headers, which the pipeline changes)
/// from a rotating set of templates that differ only there. The NIC's own time is measured
/// (<see cref="NicTicks"/>) so a benchmark can report the host cost with and without it.
/// </summary>
public sealed unsafe class MemoryRingPort : UmemPort
{
    private const int CacheLine = 64;
    private readonly List<nint> _ringMemory = new();
    private byte* _templates;
    private int _templateCount;
    private int _frameLength;
    private int _headerBytes;
    private int _nextTemplate;
    private bool _disposed;

    /// <param name="ringSize">Entries of the rx, tx and completion rings (power of two ≥ 8); the fill ring gets twice
    /// as many, as a driver keeps buffers posted ahead.</param>
    public MemoryRingPort(string name, ushort id, XdpUmem umem, int ringSize = 512)
        : base(name, 0, id, umem, 2 * CheckRingSize(ringSize))
    {
        _fill = NewRing(2 * ringSize, sizeof(ulong));
        _completion = NewRing(ringSize, sizeof(ulong));
        _rx = NewRing(ringSize, sizeof(xdp_desc));
        _tx = NewRing(ringSize, sizeof(xdp_desc));
        _alwaysWake = true; // the NIC only works when asked: every empty rx burst and every tx burst ask
        umem.Bound(this, -1, 2 * ringSize, XdpCopyMode.ZeroCopy);
        RefillFillRing();
    }

    /// <summary>No descriptor to poll: poll(2) ignores a negative fd, so an idle worker only sleeps its timeout.</summary>
    public override int PollFd => -1;

    /// <summary>Frames the NIC put into the rx ring.</summary>
    public long NicRxPackets;
    /// <summary>Frames and bytes the NIC took from the tx ring ("sent").</summary>
    public long NicTxPackets;
    public long NicTxBytes;
    /// <summary>Stopwatch ticks spent in the NIC side (receive and transmit), to subtract from a measurement.</summary>
    public long NicTicks;
    /// <summary>NIC calls left out of <see cref="NicTicks"/> because the thread was preempted during them.</summary>
    public long NicPreempted;
    /// <summary>NIC calls counted in <see cref="NicTicks"/>. Each reads the clock twice, and about one clock read's
    /// time of each call lies outside the interval measured (before the first read takes its timestamp, after the
    /// second took its own): a benchmark adds NicCalls × one clock read to the NIC's time.</summary>
    public long NicCalls;
    /// <summary>Sees every transmitted frame; null (the default) for benchmarks.</summary>
    public MemoryFrameSink? Transmitted { get; set; }

    private static int CheckRingSize(int ringSize) =>
        ringSize >= 8 && (ringSize & (ringSize - 1)) == 0 ? ringSize
            : throw new ArgumentOutOfRangeException(nameof(ringSize), ringSize, "memory ring size must be a power of two ≥ 8");

    /// <summary>
    /// What the NIC receives from now on: <paramref name="count"/> frames of <paramref name="frameLength"/> bytes,
    /// back to back in <paramref name="templates"/>, in rotation. They must be equal beyond the first
    /// <paramref name="headerBytes"/>: the full first template is written into every UMEM frame here, and each
    /// reception only rewrites the headers. Call before traffic starts (no frame may be in flight).
    /// </summary>
    public void SetRxTraffic(ReadOnlySpan<byte> templates, int frameLength, int count, int headerBytes)
    {
        if (frameLength < 14 || frameLength > _frameSize - _headroom)
            throw new ArgumentOutOfRangeException(nameof(frameLength), frameLength, $"{InterfaceName}: frame length must be 14..{_frameSize - _headroom}");
        if (count < 1 || templates.Length != frameLength * count)
            throw new ArgumentException($"{InterfaceName}: {templates.Length} template bytes for {count} frames of {frameLength}");
        headerBytes = Math.Min(headerBytes, frameLength);
        if (headerBytes < 14) throw new ArgumentOutOfRangeException(nameof(headerBytes));
        var first = templates[..frameLength];
        for (int i = 1; i < count; i++)
            if (!templates.Slice(i * frameLength + headerBytes, frameLength - headerBytes).SequenceEqual(first[headerBytes..]))
                throw new ArgumentException($"{InterfaceName}: template {i} differs from template 0 beyond the first {headerBytes} bytes");
        if (_templates != null) NativeMemory.AlignedFree(_templates);
        _templates = (byte*)NativeMemory.AlignedAlloc((nuint)templates.Length, CacheLine);
        templates.CopyTo(new Span<byte>(_templates, templates.Length));
        for (int i = 0; i < _u.FrameCount; i++)
            first.CopyTo(new Span<byte>(_umem + ((long)i << _frameShift) + _headroom, frameLength));
        _templateCount = count;
        _frameLength = frameLength;
        _headerBytes = headerBytes;
        _nextTemplate = 0;
    }

    /// <summary>The NIC receives: as many frames as the fill ring has buffers and the rx ring has room for.</summary>
    protected override void WakeRx()
    {
        if (_templateCount == 0) return;
        long start = Stopwatch.GetTimestamp();
        // The NIC is the consumer of the fill ring and the producer of the rx ring; it owns those two indices.
        // Acquire: the fill entries the user side wrote before publishing its producer index are visible.
        uint fillProd = Volatile.Read(ref *_fill.Producer);
        uint fillCons = *_fill.Consumer;
        uint rxProd = *_rx.Producer;
        // Acquire: the user side finished reading the rx entries it released.
        uint rxCons = Volatile.Read(ref *_rx.Consumer);
        uint n = Math.Min(fillProd - fillCons, _rx.Size - (rxProd - rxCons));
        int t = _nextTemplate;
        for (uint i = 0; i < n; i++)
        {
            ulong addr = (_fill.AddrAt(fillCons + i) & _chunkMask) + (ulong)_headroom;
            Buffer.MemoryCopy(_templates + (long)t * _frameLength, _umem + addr, _headerBytes, _headerBytes);
            if (++t == _templateCount) t = 0;
            ref xdp_desc d = ref _rx.DescAt(rxProd + i);
            d.addr = addr;
            d.len = (uint)_frameLength;
            d.options = 0;
        }
        _nextTemplate = t;
        // Release: the frames and descriptors written above are visible before the indices that cover them.
        Volatile.Write(ref *_fill.Consumer, fillCons + n);
        Volatile.Write(ref *_rx.Producer, rxProd + n);
        NicRxPackets += n;
        AddNicTicks(start);
    }

    /// <summary>The NIC transmits everything in the tx ring that the completion ring has room for.</summary>
    protected override void KickTx()
    {
        long start = Stopwatch.GetTimestamp();
        // Acquire: the descriptors written before the user side's producer index are visible.
        uint txProd = Volatile.Read(ref *_tx.Producer);
        uint txCons = *_tx.Consumer;
        uint compProd = *_completion.Producer;
        // Acquire: the user side finished reading the completions it released.
        uint compCons = Volatile.Read(ref *_completion.Consumer);
        uint n = Math.Min(txProd - txCons, _completion.Size - (compProd - compCons));
        long bytes = 0;
        var sink = Transmitted;
        for (uint i = 0; i < n; i++)
        {
            ref xdp_desc d = ref _tx.DescAt(txCons + i);
            bytes += d.len;
            if (sink is not null && d.addr + d.len <= _umemLength) sink(new ReadOnlySpan<byte>(_umem + d.addr, (int)d.len), d.addr);
            _completion.AddrAt(compProd + i) = d.addr;
        }
        // Release: our reads of the tx entries and the completion entries written above come first.
        Volatile.Write(ref *_tx.Consumer, txCons + n);
        Volatile.Write(ref *_completion.Producer, compProd + n);
        NicTxPackets += n;
        NicTxBytes += bytes;
        AddNicTicks(start);
    }

    /// <summary>A NIC call handles at most a ring of frames, a few microseconds; one that took longer than
    /// <see cref="PreemptedTicks"/> had the thread preempted (the wall clock kept running), so its time is not
    /// the NIC's: it is left out and counted in <see cref="NicPreempted"/>.</summary>
    private void AddNicTicks(long start)
    {
        long ticks = Stopwatch.GetTimestamp() - start;
        if (ticks <= PreemptedTicks)
        {
            NicTicks += ticks;
            NicCalls++;
        }
        else NicPreempted++;
    }

    private static readonly long PreemptedTicks = Stopwatch.Frequency / 20_000; // 50 µs

    private XskRing NewRing(int entries, int entrySize)
    {
        // Producer, consumer and flags each on their own cache line, as the kernel lays them out.
        nuint length = (nuint)(3 * CacheLine + entries * entrySize);
        byte* map = (byte*)NativeMemory.AlignedAlloc(length, CacheLine);
        NativeMemory.Clear(map, length);
        _ringMemory.Add((nint)map);
        *(uint*)(map + 2 * CacheLine) = Libc.XDP_RING_NEED_WAKEUP;
        return new XskRing
        {
            Producer = (uint*)map,
            Consumer = (uint*)(map + CacheLine),
            Flags = (uint*)(map + 2 * CacheLine),
            Entries = map + 3 * CacheLine,
            Size = (uint)entries,
            Mask = (uint)entries - 1,
        };
    }

    protected override void Dispose(bool disposing)
    {
        if (_disposed || _u is null) return; // _u is null when the base constructor refused the UMEM
        _disposed = true;
        _u.Detach(this, -1, (int)_fill.Size);
        foreach (nint m in _ringMemory) NativeMemory.AlignedFree((void*)m);
        _ringMemory.Clear();
        _fill = _completion = _rx = _tx = default;
        if (_templates != null) NativeMemory.AlignedFree(_templates);
        _templates = null;
    }

    ~MemoryRingPort() => Dispose(false);
}
