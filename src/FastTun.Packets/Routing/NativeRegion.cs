using System.Runtime.InteropServices;

namespace FastTun.Packets.Routing;

/// <summary>
/// The native memory of one <see cref="Lpm4Table"/>: one anonymous mapping, 2 MiB aligned, asking the kernel
/// for transparent huge pages (madvise MADV_HUGEPAGE; THP is "madvise" on the target hosts) so that the whole
/// table is reached through a few TLB entries. The mapping reserves address space only (MAP_NORESERVE): pages
/// are committed when first touched, so a small table costs only the pages it uses. Without huge pages (advice
/// refused, or THP off) it still works on 4 KiB pages.
///
/// <para>The advice alone does not guarantee huge pages: a first touch that finds no free 2 MiB block falls back to
/// 4 KiB pages, and khugepaged (here: 4096 pages per 10 s, never collapsed anything on the lab host) would repair that
/// only much later, so lookups in the first seconds could miss the TLB and warm up as collapses land.
/// <see cref="CollapseTouched"/> asks for the collapse synchronously (MADV_COLLAPSE, Linux 6.1+) once a build has
/// touched its pages, and reports whether the touched range is now on huge pages.</para>
///
/// <para>The region is freed by the finalizer, after the GC proves nothing references it: every
/// <see cref="Lpm4Reader"/> carries a reference to it, so a table replaced as a whole (a new forwarding state) is
/// unmapped only once no worker holds a reader on it. Memory freed inside a live table goes through QSBR.</para>
///
/// <para>These are the only system calls in FastTun.Packets (mmap, madvise, munmap at table creation and
/// collection, never per packet).</para>
/// </summary>
internal sealed unsafe partial class NativeRegion
{
    public const nuint HugePage = 2 << 20;
    private readonly byte* _mapping;
    private readonly nuint _mappingLength;

    public NativeRegion(nuint length)
    {
        _mappingLength = length + HugePage;
        void* p = mmap(null, _mappingLength, ProtRead | ProtWrite, MapPrivate | MapAnonymous | MapNoReserve, -1, 0);
        if (p == (void*)-1) throw new OutOfMemoryException($"mmap of {_mappingLength} bytes failed (errno {Marshal.GetLastPInvokeError()})");
        _mapping = (byte*)p;
        Base = (byte*)(((nuint)p + HugePage - 1) & ~(HugePage - 1));
        Length = length;
        HugePages = madvise(Base, length, MadvHugePage) == 0;
        GC.AddMemoryPressure(4 << 20);   // what a small table really touches; a big one adds its own below
    }

    public byte* Base { get; }
    public nuint Length { get; }
    /// <summary>True when the kernel accepted the huge-page advice.</summary>
    public bool HugePages { get; }

    /// <summary>
    /// True when the last <see cref="CollapseTouched"/> left the whole touched range on 2 MiB pages (MADV_COLLAPSE
    /// succeeded); false before the first call, when the kernel lacks MADV_COLLAPSE, or when it could not find free
    /// huge pages (the table then works on whatever pages it has).
    /// </summary>
    public bool TouchedOnHugePages { get; private set; }

    /// <summary>
    /// Collapses the first <paramref name="bytes"/> (rounded up to whole huge pages) into 2 MiB pages now, instead of
    /// leaving it to khugepaged: pages the first touch got as 4 KiB ones are copied into a huge page (a few ms for a
    /// 10 MiB table; nothing to do when they already are huge). Writer side, never on the lookup path.
    /// </summary>
    public bool CollapseTouched(nuint bytes)
    {
        if (!HugePages) return false;
        nuint length = Math.Min((bytes + HugePage - 1) & ~(HugePage - 1), Length);
        TouchedOnHugePages = length > 0 && madvise(Base, length, MadvCollapse) == 0;
        return TouchedOnHugePages;
    }

    ~NativeRegion()
    {
        munmap(_mapping, _mappingLength);
        GC.RemoveMemoryPressure(4 << 20);
    }

    private const int ProtRead = 1, ProtWrite = 2, MapPrivate = 2, MapAnonymous = 0x20, MapNoReserve = 0x4000, MadvHugePage = 14, MadvCollapse = 25;

    [LibraryImport("libc", SetLastError = true)]
    private static partial void* mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int madvise(void* addr, nuint length, int advice);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int munmap(void* addr, nuint length);
}
