using FastTun.Linux.AfXdp;

namespace FastTun.Linux.Tests;

/// <summary>
/// The UMEM's memory (lat6): frames start on a 2 MiB boundary, every frame is committed and writable, and when the
/// kernel reports huge pages for the mapping (the slow oracle: /proc/self/smaps, read independently here) the UMEM
/// says so, and the other way round.
/// </summary>
public sealed class XdpUmemHugePageTests
{
    private static string ThpMode()
    {
        const string path = "/sys/kernel/mm/transparent_hugepage/enabled";
        if (!File.Exists(path)) return "never";
        string s = File.ReadAllText(path);
        int open = s.IndexOf('['), close = s.IndexOf(']');
        return open >= 0 && close > open ? s[(open + 1)..close] : "never";
    }

    /// <summary>AnonHugePages of every smaps entry that overlaps [start, end), summed: the oracle.</summary>
    private static ulong SmapsHugeBytes(ulong start, ulong end)
    {
        ulong total = 0;
        bool overlaps = false;
        foreach (string line in File.ReadLines("/proc/self/smaps"))
        {
            string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length > 0 && parts[0].Contains('-') && !parts[0].EndsWith(':'))
            {
                string[] range = parts[0].Split('-');
                ulong lo = Convert.ToUInt64(range[0], 16), hi = Convert.ToUInt64(range[1], 16);
                overlaps = lo < end && hi > start;
            }
            else if (overlaps && parts.Length >= 2 && parts[0] == "AnonHugePages:")
            {
                total += ulong.Parse(parts[1]) * 1024;
            }
        }
        return total;
    }

    [Theory]
    [InlineData(2048, 4096)]   // 8 MiB: the gateway's per-port default
    [InlineData(2048, 1000)]   // not a multiple of 2 MiB
    [InlineData(4096, 64)]
    public unsafe void Constructor_AnySize_FramesOnTwoMiBBoundaryAllWritable(int frameSize, int frameCount)
    {
        using var umem = new XdpUmem(frameSize, frameCount);
        Assert.Equal(0ul, (ulong)umem.Base % (2ul << 20));
        Assert.Equal((ulong)frameSize * (ulong)frameCount, umem.Length);
        for (int i = 0; i < frameCount; i++)
        {
            byte* frame = umem.Base + (long)i * frameSize;
            frame[0] = (byte)i;
            frame[frameSize - 1] = (byte)~i;
        }
        for (int i = 0; i < frameCount; i++)
        {
            byte* frame = umem.Base + (long)i * frameSize;
            Assert.Equal((byte)i, frame[0]);
            Assert.Equal((byte)~i, frame[frameSize - 1]);
        }
    }

    [Fact]
    public unsafe void HugePages_ThpAvailable_ReportMatchesSmapsAndCoversEveryFrame()
    {
        using var umem = new XdpUmem(2048, 4096);
        ulong start = (ulong)umem.Base, end = start + umem.Length;
        ulong oracle = SmapsHugeBytes(start, end);
        Assert.Equal(oracle, umem.HugePageBytes());
        if (ThpMode() == "never")
        {
            Assert.False(umem.HugePages);
            Assert.Equal(0ul, oracle);
            return;
        }
        // With THP in madvise or always mode the kernel can still lack a free 2 MiB block: then HugePages is false
        // and the smaps figure says the frames are (partly) on 4 KiB pages. Either way the two views agree.
        if (umem.HugePages) Assert.True(oracle >= umem.Length, $"HugePages but smaps shows {oracle} of {umem.Length} bytes huge");
        else Assert.True(oracle < umem.Length, $"smaps shows all {umem.Length} bytes huge but HugePages is false");
    }
}
