using System.Buffers.Binary;
using System.Diagnostics;
using FastTun.Gateway.Dataplane;
using FastTun.Gateway.Bench;
using FastTun.Linux.AfXdp;
using FastTun.Linux.Ports;
using FastTun.Packets.Datapath;

namespace FastTun.Gateway.Tests;

/// <summary>
/// The setup of <c>fasttun bench worker</c> run through the real <see cref="Worker"/> over two memory-ring ports
/// on one UMEM: every frame comes out as the mode says (outer header, GRE key and consecutive sequence
/// numbers, TTL, MACs), none is dropped or copied, and the UMEM's frames are all accounted for at the end.
/// </summary>
public sealed class WorkerBenchTests
{
    [Theory]
    [InlineData(WorkerBenchMode.Ipip, 64)]
    [InlineData(WorkerBenchMode.Ipip, 1500)]
    [InlineData(WorkerBenchMode.Gre, 64)]
    [InlineData(WorkerBenchMode.Decap, 64)]
    [InlineData(WorkerBenchMode.Forward, 1500)]
    public void Worker_BenchSetupOverMemoryRingPorts_EveryFrameForwardedAsModeSaysWithoutCopy(WorkerBenchMode mode, int frame)
    {
        var setup = WorkerBenchSetup.Create(mode, 20_000, frame, templateCount: 256);
        using var umem = new XdpUmem(2048, 4096);
        var eth1 = new MemoryRingPort("mem-eth1", 0, umem, 256);
        var eth2 = new MemoryRingPort("mem-eth2", 1, umem, 256);
        MemoryRingPort[] ports = [eth1, eth2];
        var rx = ports[setup.RxPort];
        var tx = ports[setup.TxPort];
        rx.SetRxTraffic(setup.Templates, setup.FrameLength, setup.TemplateCount, WorkerBench.HeaderBytes);
        long good = 0, bad = 0;
        uint nextSeq = 0;
        tx.Transmitted = (f, _) =>
        {
            if (Check(mode, f, setup.FrameLength, ref nextSeq)) good++;
            else bad++;
        };
        var pipeline = new FastTun.Packets.Datapath.Pipeline(() => setup.State, setup.Neighbors);
        using (var worker = new Worker(0, [eth1, eth2], pipeline))
        {
            worker.Start();
            var clock = Stopwatch.StartNew();
            while (Volatile.Read(ref tx.NicTxPackets) < 20_000 && clock.Elapsed < TimeSpan.FromSeconds(20)) Thread.Sleep(5);
            worker.Stop();
            Assert.Null(worker.Fault);
            tx.Flush();
            tx.Flush();
            Assert.True(tx.NicTxPackets >= 20_000, $"only {tx.NicTxPackets} sent");
            Assert.Equal((tx.NicTxPackets, 0L), (good, bad));
            Assert.Equal(0, pipeline.Counters.TotalDrops());
            Assert.Equal(0, tx.Counters.TxCopied);
            var a = umem.Accounting();
            Assert.Equal((0L, a.Total), (a.Violations, a.Sum));
            Assert.Equal(0, a.Application + a.TxRing + a.CompletionRing);
            Assert.Equal(rx.NicRxPackets, tx.NicTxPackets + a.RxRing);
        }
    }

    private static bool Check(WorkerBenchMode mode, ReadOnlySpan<byte> f, int inLength, ref uint nextSeq)
    {
        if (BinaryPrimitives.ReadUInt16BigEndian(f[12..]) != 0x0800) return false;
        ulong dstMac = NeighborEntry.ReadMac(f);
        var ip = f[14..];
        uint src = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]), dst = BinaryPrimitives.ReadUInt32BigEndian(ip[16..]);
        switch (mode)
        {
            case WorkerBenchMode.Ipip:
                return dstMac == WorkerBenchSetup.Gw2Eth2Mac && ip[9] == 4 && (src, dst) == (0xAC0C010Au, 0xAC0C010Bu)
                    && f.Length == inLength + 20 && ip[20 + 8] == 63;
            case WorkerBenchMode.Gre:
                if (dstMac != WorkerBenchSetup.Gw2Eth2Mac || ip[9] != 47 || f.Length != inLength + 20 + 16) return false;
                var gre = ip[20..];
                // C, K and S set, version 0, IPv4 payload; checksum, key 42, then the sequence number.
                if (BinaryPrimitives.ReadUInt16BigEndian(gre) != 0xB000 || BinaryPrimitives.ReadUInt16BigEndian(gre[2..]) != 0x0800) return false;
                if (BinaryPrimitives.ReadUInt32BigEndian(gre[8..]) != 42) return false;
                uint seq = BinaryPrimitives.ReadUInt32BigEndian(gre[12..]);
                if (seq != nextSeq) return false;
                nextSeq++;
                return true;
            case WorkerBenchMode.Decap:
                return dstMac == WorkerBenchSetup.Server1Mac && ip[9] == 17 && ip[8] == 63 && f.Length == inLength - 20;
            default:
                return dstMac == WorkerBenchSetup.Gw2Eth2Mac && ip[9] == 17 && ip[8] == 63 && f.Length == inLength;
        }
    }
}
