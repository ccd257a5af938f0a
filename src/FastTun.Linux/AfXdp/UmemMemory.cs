using System.Globalization;
using FastTun.Linux.Interop;

namespace FastTun.Linux.AfXdp;

/// <summary>
/// The memory of one <see cref="XdpUmem"/>: an anonymous mapping whose frames start on a 2 MiB boundary and that asks
/// for transparent huge pages (MADV_HUGEPAGE; THP is "madvise" on the target hosts), populated up front and collapsed
/// into 2 MiB pages at once (MADV_COLLAPSE, Linux 6.1+) when the first touch got 4 KiB ones.
///
/// Why: a worker that wakes after ~20 ms asleep runs its first pass cold, and on a virtual machine every TLB miss is
/// a two-level page walk; with 4 KiB pages each frame the pass touches (and the next one the kernel fills) is a walk
/// of its own, with 2 MiB pages one entry covers 1024 frames (bench/RESULTS.md, lat6). When the kernel refuses the
/// advice or has no free huge page the UMEM works as before on 4 KiB pages (<see cref="HugePages"/> says which).
/// </summary>
internal sealed unsafe class UmemMemory
{
    public const nuint HugePage = 2 << 20;
    private const int MapNoReserve = 0x4000;
    private const int MadvHugePage = 14, MadvPopulateWrite = 23, MadvCollapse = 25;

    private readonly byte* _mapping;
    private readonly nuint _mappingLength;

    /// <param name="length">Bytes the UMEM needs; the huge-page part is rounded up to whole 2 MiB pages.</param>
    public UmemMemory(ulong length)
    {
        nuint rounded = ((nuint)length + HugePage - 1) & ~(HugePage - 1);
        _mappingLength = rounded + HugePage; // room to move the start to a 2 MiB boundary
        void* map = Libc.mmap(null, _mappingLength, Libc.PROT_READ | Libc.PROT_WRITE,
            Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | MapNoReserve, -1, 0);
        if ((nint)map == Libc.MAP_FAILED) throw LinuxException.FromLastError($"mmap UMEM ({_mappingLength} bytes)");
        _mapping = (byte*)map;
        Base = (byte*)(((nuint)map + HugePage - 1) & ~(HugePage - 1));
        Length = rounded;
        bool advised = Libc.madvise(Base, rounded, MadvHugePage) == 0;
        // Commit every page now (the kernel pins them at XDP_UMEM_REG anyway): after the advice, so that the faults
        // take huge pages where the kernel has them. Older kernels lack MADV_POPULATE_WRITE: touch each page instead.
        if (Libc.madvise(Base, rounded, MadvPopulateWrite) != 0)
            for (nuint o = 0; o < rounded; o += 4096) Base[o] = 0;
        // The faults fall back to 4 KiB pages when no free 2 MiB block is at hand; collapse them now rather than
        // leaving it to khugepaged (which may take minutes, or never run).
        HugePages = advised && (HugePageBytes() >= rounded || Libc.madvise(Base, rounded, MadvCollapse) == 0);
    }

    /// <summary>The first frame's address: a 2 MiB boundary.</summary>
    public byte* Base { get; }
    /// <summary>Usable bytes from <see cref="Base"/>, a multiple of 2 MiB.</summary>
    public nuint Length { get; }
    /// <summary>True when the whole UMEM was on 2 MiB pages after construction (advice accepted and either the
    /// faults or MADV_COLLAPSE gave huge pages).</summary>
    public bool HugePages { get; }

    /// <summary>Bytes of this UMEM the kernel maps with huge pages right now (AnonHugePages of the mappings in
    /// /proc/self/smaps that lie inside it). Reads a file: setup and tests only.</summary>
    public ulong HugePageBytes()
    {
        ulong start = (ulong)Base, end = start + Length, total = 0;
        bool inside = false;
        foreach (string line in File.ReadLines("/proc/self/smaps"))
        {
            int dash = line.IndexOf('-');
            int space = line.IndexOf(' ');
            if (dash > 0 && space > dash && IsHex(line.AsSpan(0, dash)))
            {
                ulong lo = ulong.Parse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                ulong hi = ulong.Parse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                inside = lo >= start && hi <= end;
                continue;
            }
            if (inside && line.StartsWith("AnonHugePages:", StringComparison.Ordinal))
                total += ulong.Parse(line.AsSpan(14).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
        }
        return total;
    }

    private static bool IsHex(ReadOnlySpan<char> s)
    {
        foreach (char c in s) if (!char.IsAsciiHexDigit(c)) return false;
        return s.Length > 0;
    }

    public void Release() => Libc.munmap(_mapping, _mappingLength);
}
