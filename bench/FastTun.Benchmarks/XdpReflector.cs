using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using FastTun.Linux.AfXdp;
using FastTun.Linux.Interop;
using FastTun.Packets.Checksum;
using FastTun.Packets.Datapath;

namespace FastTun.Benchmarks;

/// <summary>
/// End-to-end AF_XDP port benchmark, driven by bench/e2e/xdp-reflector.sh (not a BenchmarkDotNet class):
/// <list type="bullet">
/// <item><c>xdp-reflector reflect --if dut0 --seconds S [--mode native|generic] [--batch 64]</c>: one worker
/// thread: RxBurst → swap MACs → TxBurst on the same port → RxDone; poll(2) when idle so the NAPI thread
/// on the same core gets the CPU.</item>
/// <item><c>xdp-reflector generate --if gen0 --dst-mac M --src-ip A --dst-net B --seconds S --warmup W
/// [--size 64] [--cpu N] [--pps R]</c>: a closed-loop AF_XDP tx loop that also counts what comes back (the sink),
/// printing one line of key=value results for the measured window, including the busy jiffies of CPU N
/// (the device under test) from /proc/stat.</item>
/// </list>
/// </summary>
public static class XdpReflector
{
    public static int Run(string[] args)
    {
        if (args.Length == 0 || (args[0] != "reflect" && args[0] != "generate"))
        {
            Console.Error.WriteLine("usage: xdp-reflector reflect|generate --if IF ... (see XdpReflector.cs)");
            return 2;
        }
        var opts = new Dictionary<string, string>();
        for (int i = 1; i + 1 < args.Length; i += 2) opts[args[i].TrimStart('-')] = args[i + 1];
        string Get(string key, string fallback) => opts.TryGetValue(key, out var v) ? v : fallback;
        var mode = Get("mode", "auto") switch
        {
            "native" => XdpAttachMode.Native,
            "generic" => XdpAttachMode.Generic,
            _ => XdpAttachMode.Auto,
        };
        var options = new AfXdpOptions { AttachMode = mode, RxRingSize = 2048, TxRingSize = 2048, FillRingSize = 4096, CompletionRingSize = 2048, FrameCount = 8192 };
        using var port = new AfXdpPort(Get("if", "dut0"), 0, 0, options);
        Console.Error.WriteLine($"xdp-reflector {args[0]}: {port.InterfaceName} XDP {port.AttachMode} mode, socket {port.CopyMode}, tx budget raised {port.TxBudgetRaised}");
        double seconds = double.Parse(Get("seconds", "5"), CultureInfo.InvariantCulture);
        return args[0] == "reflect"
            ? Reflect(port, int.Parse(Get("batch", "64")), seconds)
            : Generate(port, opts, seconds);
    }

    private static unsafe int Reflect(AfXdpPort port, int batchSize, double seconds)
    {
        var batch = new PacketBatch(batchSize);
        var clock = Stopwatch.StartNew();
        long end = (long)(seconds * Stopwatch.Frequency);
        var pfd = new Libc.pollfd { fd = port.PollFd, events = Libc.POLLIN };
        long idlePolls = 0;
        while (clock.ElapsedTicks < end)
        {
            batch.Clear();
            int n = port.RxBurst(batch);
            if (n == 0)
            {
                port.Flush();
                Libc.poll(&pfd, 1, 10);
                idlePolls++;
                continue;
            }
            for (int i = 0; i < n; i++)
            {
                ref Frame f = ref batch[i];
                SwapMacs(f.Data);
                f.OutPort = port.Id;
            }
            port.TxBurst(batch);
            port.RxDone(batch);
        }
        port.UpdateDropCounters();
        var c = port.Counters;
        Console.WriteLine($"reflect rx={c.RxPackets} tx={c.TxPackets} rx_dropped={c.RxDropped} tx_dropped={c.TxDropped} " +
            $"syscalls={c.Syscalls} batches={c.RxBatches} idle_polls={idlePolls} accounting=\"{port.Accounting()}\"");
        return 0;
    }

    private static void SwapMacs(Span<byte> frame)
    {
        if (frame.Length < 12) return;
        Span<byte> tmp = stackalloc byte[6];
        frame[..6].CopyTo(tmp);
        frame.Slice(6, 6).CopyTo(frame);
        tmp.CopyTo(frame.Slice(6, 6));
    }

    private static int Generate(AfXdpPort port, Dictionary<string, string> opts, double seconds)
    {
        int size = int.Parse(opts.GetValueOrDefault("size", "64"));
        double warmup = double.Parse(opts.GetValueOrDefault("warmup", "1"), CultureInfo.InvariantCulture);
        int cpu = int.Parse(opts.GetValueOrDefault("cpu", "1"));
        // 0 = as fast as the loop goes. Otherwise batches of 64 leave at this average rate and the loop sleeps
        // in poll(2) on the sink socket in between, leaving CPU0 to gen0's NAPI thread that feeds the sink.
        double pps = double.Parse(opts.GetValueOrDefault("pps", "0"), CultureInfo.InvariantCulture);
        int dutPid = int.Parse(opts.GetValueOrDefault("dut-pid", "0"));
        string napiPrefix = opts.GetValueOrDefault("dut-napi", "napi/dut0-");
        long ticksPerBatch = pps > 0 ? (long)(64 * Stopwatch.Frequency / pps) : 0;
        long nextBatch = 0;
        byte[] dstMac = ParseMac(opts["dst-mac"]);
        byte[] srcMac = ParseMac(opts["src-mac"]);
        byte[] srcIp = ParseIp(opts["src-ip"]);
        byte[] dstNet = ParseIp(opts["dst-net"]);

        using var pool = new FramePool(64);
        var tx = new PacketBatch(64);
        for (int i = 0; i < 64; i++)
        {
            ref Frame f = ref tx.Add();
            pool.TryRent(ref f);
            f.Length = size;
            BuildUdp(f.Data, dstMac, srcMac, srcIp, dstNet, (byte)(i + 1));
        }
        var rx = new PacketBatch(64);
        var clock = Stopwatch.StartNew();
        long warmEnd = (long)(warmup * Stopwatch.Frequency), end = (long)((warmup + seconds) * Stopwatch.Frequency);
        long received = 0, sentAtWarm = 0, receivedAtWarm = 0, busyAtWarm = 0, softirqAtWarm = 0, dutAtWarm = 0, windowStart = 0;
        bool warm = false;
        long iterations = 0;
        while (true)
        {
            long now = clock.ElapsedTicks;
            if (!warm && now >= warmEnd)
            {
                warm = true;
                windowStart = now;
                sentAtWarm = port.Counters.TxPackets;
                receivedAtWarm = received;
                busyAtWarm = CpuBusyJiffies(cpu);
                softirqAtWarm = CpuField(cpu, 7);
                dutAtWarm = DutJiffies(dutPid, napiPrefix);
            }
            if (now >= end) break;
            int n;
            while ((n = RxOnce(port, rx)) > 0) received += n;
            if (ticksPerBatch > 0)
            {
                now = clock.ElapsedTicks;
                if (now < nextBatch)
                {
                    WaitForRx(port, Math.Max(1, (int)((nextBatch - now) * 1000 / Stopwatch.Frequency)));
                    continue;
                }
                // Do not bank more than a few batches of credit after a stall.
                nextBatch = Math.Max(nextBatch, now - 4 * ticksPerBatch) + ticksPerBatch;
            }
            for (int i = 0; i < 64; i++)
            {
                ref Frame f = ref tx[i];
                f.Drop = DropReason.None;
                f.OutPort = port.Id;
            }
            port.TxBurst(tx);
            if ((++iterations & 1023) == 0) port.Flush();
        }
        long busy = CpuBusyJiffies(cpu) - busyAtWarm;
        long softirq = CpuField(cpu, 7) - softirqAtWarm;
        long dut = DutJiffies(dutPid, napiPrefix) - dutAtWarm;
        double window = (double)(clock.ElapsedTicks - windowStart) / Stopwatch.Frequency;
        long sent = port.Counters.TxPackets - sentAtWarm;
        long got = received - receivedAtWarm;
        double nsPerPacket = got > 0 ? dut * (1e9 / UserHz) / got : 0;
        double busyNsPerPacket = got > 0 ? busy * (1e9 / UserHz) / got : 0;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"generate window_s={window:F3} sent={sent} received={got} offered_pps={sent / window:F0} delivered_pps={got / window:F0} " +
            $"dut_jiffies={dut} dut_ns_per_packet={nsPerPacket:F0} cpu{cpu}_busy_jiffies={busy} cpu{cpu}_busy_ns_per_packet={busyNsPerPacket:F0} cpu{cpu}_softirq_jiffies={softirq} " +
            $"tx_dropped={port.Counters.TxDropped}"));
        return 0;
    }

    private static unsafe void WaitForRx(AfXdpPort port, int milliseconds)
    {
        var pfd = new Libc.pollfd { fd = port.PollFd, events = Libc.POLLIN };
        Libc.poll(&pfd, 1, milliseconds);
    }

    private static int RxOnce(AfXdpPort port, PacketBatch rx)
    {
        rx.Clear();
        int n = port.RxBurst(rx);
        port.RxDone(rx);
        return n;
    }

    /// <summary>USER_HZ: /proc/stat counts CPU time in 1/100 s.</summary>
    private const int UserHz = 100;

    /// <summary>CPU time of the device under test, in USER_HZ jiffies: the reflector process (all threads) + the
    /// NAPI kthreads whose name starts with <paramref name="napiPrefix"/> (threaded veth NAPI running kernel
    /// forwarding or the XDP program). Unlike the CPU's busy or softirq time this leaves out neighbours that
    /// happen to run on the same CPU.</summary>
    private static long DutJiffies(int pid, string napiPrefix)
    {
        long total = 0;
        if (pid > 0) total += ProcessJiffies($"/proc/{pid}/stat");
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            string name = Path.GetFileName(dir);
            if (name.Length == 0 || !char.IsAsciiDigit(name[0])) continue;
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "comm")).StartsWith(napiPrefix, StringComparison.Ordinal))
                    total += ProcessJiffies(Path.Combine(dir, "stat"));
            }
            catch (IOException) { } // the process exited while we looked
            catch (UnauthorizedAccessException) { }
        }
        return total;
    }

    /// <summary>utime + stime (fields 14 and 15) of /proc/PID/stat.</summary>
    private static long ProcessJiffies(string statPath)
    {
        try
        {
            string stat = File.ReadAllText(statPath);
            string[] f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // f[0] is field 3 (state): utime is field 14 → f[11], stime field 15 → f[12].
            return long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>One column of the cpuN line of /proc/stat (1 = user … 7 = softirq).</summary>
    private static long CpuField(int cpu, int column)
    {
        string prefix = $"cpu{cpu} ";
        foreach (string line in File.ReadLines("/proc/stat"))
            if (line.StartsWith(prefix, StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[column], CultureInfo.InvariantCulture);
        throw new InvalidOperationException($"cpu{cpu} not in /proc/stat");
    }

    /// <summary>Busy time of one CPU in USER_HZ jiffies (/proc/stat: all fields but idle and iowait).</summary>
    private static long CpuBusyJiffies(int cpu)
    {
        string prefix = $"cpu{cpu} ";
        foreach (string line in File.ReadLines("/proc/stat"))
        {
            if (!line.StartsWith(prefix, StringComparison.Ordinal)) continue;
            string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            long busy = 0;
            for (int i = 1; i < f.Length && i <= 8; i++)
                if (i != 4 && i != 5) busy += long.Parse(f[i], CultureInfo.InvariantCulture);
            return busy;
        }
        throw new InvalidOperationException($"cpu{cpu} not in /proc/stat");
    }

    /// <summary>Ethernet + IPv4 (valid header checksum, TTL 64) + UDP (checksum 0), destination
    /// dstNet.host so flows differ per frame.</summary>
    private static void BuildUdp(Span<byte> frame, byte[] dstMac, byte[] srcMac, byte[] srcIp, byte[] dstNet, byte host)
    {
        frame.Clear();
        dstMac.CopyTo(frame);
        srcMac.CopyTo(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], 0x0800);
        Span<byte> ip = frame.Slice(14, 20);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(frame.Length - 14));
        ip[6] = 0x40; // DF
        ip[8] = 64;
        ip[9] = 17;
        srcIp.CopyTo(ip[12..]);
        dstNet.AsSpan(0, 3).CopyTo(ip[16..]);
        ip[19] = host;
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Compute(ip));
        Span<byte> udp = frame[34..];
        BinaryPrimitives.WriteUInt16BigEndian(udp, (ushort)(20000 + host));
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], 9);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(frame.Length - 34));
        if (!InternetChecksum.Verify(ip)) throw new InvalidOperationException("IPv4 header checksum does not verify");
    }

    private static byte[] ParseMac(string s) => s.Split(':').Select(h => byte.Parse(h, NumberStyles.HexNumber)).ToArray();
    private static byte[] ParseIp(string s) => s.Split('.').Select(byte.Parse).ToArray();
}
