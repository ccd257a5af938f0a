using System.Buffers.Binary;
using System.Diagnostics;
using FastTun.Linux.AfPacket;
using FastTun.Linux.Interop;
using FastTun.Linux.Ports;
using FastTun.Packets.Datapath;

namespace FastTun.Benchmarks;

/// <summary>
/// Hidden end-to-end commands used by bench/e2e/reflector.sh (not BenchmarkDotNet benchmarks):
/// <c>reflect --driver af_packet --iface X --seconds N [--batch 64] [--tx sendmmsg|ring]</c> runs rx → swap MACs →
/// tx on one port until the time is up and prints its counters; <c>generate --iface X --seconds N [--size 60]
/// [--pps R]</c> is a closed-loop AF_PACKET traffic source. Both only see <see cref="PacketPort"/>, so another
/// driver plugs in through <see cref="ReflectorDrivers.Open"/>.
/// </summary>
public static class Reflector
{
    public static int Run(string[] args)
    {
        var opts = ReflectorArgs.Parse(args[1..]);
        return args[0] switch
        {
            "reflect" => Reflect(opts),
            "generate" => ReflectorGenerator.Run(opts),
            _ => throw new ArgumentException($"unknown command {args[0]}"),
        };
    }

    private static int Reflect(ReflectorArgs a)
    {
        using PacketPort port = ReflectorDrivers.Open(a.Driver, a.Iface, a.TxMode, receive: true);
        var batch = new PacketBatch(a.Batch);
        Console.WriteLine($"reflect: driver {a.Driver} iface {a.Iface} batch {a.Batch} tx {a.TxMode} pid {Environment.ProcessId} for {a.Seconds} s");
        long end = Environment.TickCount64 + a.Seconds * 1000L;
        long idlePolls = 0;
        var sw = Stopwatch.StartNew();
        while (Environment.TickCount64 < end)
        {
            batch.Clear();
            int n = port.RxBurst(batch);
            if (n == 0)
            {
                port.Flush();
                Poll(port.PollFd, 10);
                idlePolls++;
                continue;
            }
            Loop(batch, port.Id);
            port.TxBurst(batch);
            port.RxDone(batch);
        }
        port.Flush();
        PortCounters c = port.Counters;
        double secs = sw.Elapsed.TotalSeconds;
        Console.WriteLine($"reflect-result rx {c.RxPackets} tx {c.TxPackets} rx-dropped {c.RxDropped} tx-dropped {c.TxDropped} " +
                          $"syscalls {c.Syscalls} batches {c.RxBatches} idle-polls {idlePolls} seconds {secs:F2} " +
                          $"rx-pps {c.RxPackets / secs:F0} avg-batch {(c.RxBatches == 0 ? 0 : (double)c.RxPackets / c.RxBatches):F1} " +
                          $"user-ns/pkt {Process.GetCurrentProcess().UserProcessorTime.TotalNanoseconds / Math.Max(1, c.RxPackets):F0} " +
                          $"sys-ns/pkt {Process.GetCurrentProcess().PrivilegedProcessorTime.TotalNanoseconds / Math.Max(1, c.RxPackets):F0} (whole run)");
        return 0;
    }

    /// <summary>The per-packet work: swap destination and source MAC in place and send back out the same port.</summary>
    private static void Loop(PacketBatch batch, ushort port)
    {
        for (int i = 0; i < batch.Count; i++)
        {
            ref Frame f = ref batch[i];
            Span<byte> d = f.Data;
            if (d.Length < 14)
            {
                f.Drop = DropReason.Truncated;
                continue;
            }
            uint dstHi = BinaryPrimitives.ReadUInt32LittleEndian(d);
            ushort dstLo = BinaryPrimitives.ReadUInt16LittleEndian(d[4..]);
            BinaryPrimitives.WriteUInt32LittleEndian(d, BinaryPrimitives.ReadUInt32LittleEndian(d[6..]));
            BinaryPrimitives.WriteUInt16LittleEndian(d[4..], BinaryPrimitives.ReadUInt16LittleEndian(d[10..]));
            BinaryPrimitives.WriteUInt32LittleEndian(d[6..], dstHi);
            BinaryPrimitives.WriteUInt16LittleEndian(d[10..], dstLo);
            f.OutPort = port;
        }
    }

    internal static unsafe void Poll(int fd, int ms)
    {
        var pfd = new Libc.pollfd { fd = fd, events = Libc.POLLIN };
        Libc.poll(&pfd, 1, ms);
    }
}

/// <summary>Opens a <see cref="PacketPort"/> of the named driver.</summary>
public static class ReflectorDrivers
{
    public static PacketPort Open(string driver, string iface, AfPacketTxMode txMode, bool receive) => driver switch
    {
        "af_packet" => new AfPacketPort(iface, 0, new AfPacketOptions { TxMode = txMode, Receive = receive }),
        _ => throw new ArgumentException($"unknown driver '{driver}' (this build has: af_packet)"),
    };
}

public sealed record ReflectorArgs(string Driver, string Iface, int Seconds, int Batch, AfPacketTxMode TxMode, int Size, long Pps)
{
    public static ReflectorArgs Parse(string[] args)
    {
        string driver = "af_packet", iface = "";
        int seconds = 5, batch = 64, size = 60;
        long pps = 0;
        var tx = AfPacketTxMode.SendMmsg;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            string v = args[i + 1];
            switch (args[i])
            {
                case "--driver": driver = v; break;
                case "--iface": iface = v; break;
                case "--seconds": seconds = int.Parse(v); break;
                case "--batch": batch = int.Parse(v); break;
                case "--size": size = int.Parse(v); break;
                case "--pps": pps = long.Parse(v); break;
                case "--tx": tx = v == "ring" ? AfPacketTxMode.Ring : AfPacketTxMode.SendMmsg; break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }
        if (iface.Length == 0) throw new ArgumentException("--iface is required");
        return new ReflectorArgs(driver, iface, seconds, batch, tx, size, pps);
    }
}
