using System.Buffers.Binary;
using System.Diagnostics;
using FastTun.Linux.Ports;
using FastTun.Packets.Checksum;
using FastTun.Packets.Datapath;

namespace FastTun.Benchmarks;

/// <summary>
/// Closed-loop UDP generator for the reflector benchmark: keeps its tx ring full (a full ring just means "try
/// again", it is not counted as offered), optionally paced to <c>--pps</c> per 1 ms slice. Frames go to the MAC
/// given in FT_GEN_DST_MAC from 02:00:00:00:00:99, 10.8.0.1 → 10.9.0.1, 64 UDP flows.
/// </summary>
public static class ReflectorGenerator
{
    public static int Run(ReflectorArgs a)
    {
        using PacketPort port = ReflectorDrivers.Open(a.Driver, a.Iface, a.TxMode, receive: false);
        byte[] dst = ParseMac(Environment.GetEnvironmentVariable("FT_GEN_DST_MAC") ?? "ff:ff:ff:ff:ff:ff");
        const int flows = 64;
        using var pool = new FramePool(flows);
        var templates = new Frame[flows];
        for (int i = 0; i < flows; i++)
        {
            pool.TryRent(ref templates[i]);
            templates[i].Length = a.Size;
            Build(templates[i].Data, dst, i);
        }
        var batch = new PacketBatch(a.Batch);
        long end = Environment.TickCount64 + a.Seconds * 1000L;
        long sent = 0, ringFull = 0;
        var sw = Stopwatch.StartNew();
        long perMs = a.Pps / 1000;
        int next = 0;
        while (Environment.TickCount64 < end)
        {
            if (perMs > 0 && sent >= sw.ElapsedMilliseconds * perMs)
            {
                Thread.SpinWait(50);
                continue;
            }
            batch.Clear();
            for (int i = 0; i < batch.Capacity; i++)
            {
                ref Frame f = ref batch.Add();
                f = templates[next];
                f.OutPort = port.Id;
                next = next + 1 == flows ? 0 : next + 1;
            }
            int q = port.TxBurst(batch);
            sent += q;
            if (q < batch.Count)
            {
                ringFull += batch.Count - q;
                Thread.Yield(); // let the kernel drain the ring (veth frees slots when the peer takes the frame)
            }
        }
        port.Flush();
        Console.WriteLine($"generate-result sent {sent} ring-full-retries {ringFull} seconds {sw.Elapsed.TotalSeconds:F2} pps {sent / sw.Elapsed.TotalSeconds:F0}");
        return 0;
    }

    private static void Build(Span<byte> f, byte[] dst, int flow)
    {
        f.Clear();
        dst.CopyTo(f);
        f[6] = 0x02; f[11] = 0x99;
        BinaryPrimitives.WriteUInt16BigEndian(f[12..], 0x0800);
        Span<byte> ip = f.Slice(14, 20);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(f.Length - 14));
        ip[8] = 64;
        ip[9] = 17;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], 0x0A080001u);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], 0x0A090001u);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Compute(ip));
        Span<byte> udp = f[34..];
        BinaryPrimitives.WriteUInt16BigEndian(udp, (ushort)(10000 + flow));
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], 9);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(f.Length - 34));
    }

    private static byte[] ParseMac(string s) => s.Split(':').Select(x => Convert.ToByte(x, 16)).ToArray();
}
