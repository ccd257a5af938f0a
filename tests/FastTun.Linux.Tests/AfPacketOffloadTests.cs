using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using FastTun.Linux.AfPacket;
using FastTun.Linux.Tests.Net;
using FastTun.Packets.Datapath;

namespace FastTun.Linux.Tests;

/// <summary>
/// Partial checksums and GSO from a real TCP stack: a namespace (offloads on) sends to a listener in the root
/// namespace over a veth; the port on the root end sees the same frames as the stack, super-frames included, and
/// must deliver only complete, correctly checksummed frames of at most MTU + 14 bytes.
/// </summary>
public class AfPacketOffloadTests
{
    [RootFact]
    public void RxBurst_TcpFromNamespaceWithOffloads_EveryFrameCompleteAndWithinMtu()
    {
        using var veth = new VethPair();
        string ns = $"ftns{Environment.ProcessId % 100000}";
        // A per-process subnet, so a veth left behind by a crashed run cannot steal the route.
        int net = Environment.ProcessId % 250 + 1;
        string local = $"10.99.{net}.1", remote = $"10.99.{net}.2";
        Shell.Ip($"netns del {ns}", check: false);
        Shell.Ip($"netns add {ns}");
        try
        {
            Shell.Ip($"link set {veth.B} netns {ns}");
            Shell.Ip($"-n {ns} addr add {remote}/24 dev {veth.B}");
            Shell.Ip($"-n {ns} link set {veth.B} up");
            Shell.Ip($"addr add {local}/24 dev {veth.A}");
            Shell.Run("ip", $"netns exec {ns} ethtool -K {veth.B} tx on tso on gso on sg on");

            // 32 MB of ring: the kernel's TCP runs at GB/s and the asserting loop below is slow; the point here is
            // correctness of every frame, so the ring must not overflow.
            using var port = new AfPacketPort(veth.A, id: 7, new AfPacketOptions { RxBlockCount = 256 });
            using var listener = new TcpListener(IPAddress.Parse(local), 0);
            listener.Start();
            int tcpPort = ((IPEndPoint)listener.LocalEndpoint).Port;
            const int bytes = 4_000_000;
            long receivedByApp = 0;
            var server = Task.Run(() =>
            {
                using var conn = listener.AcceptTcpClient();
                using var stream = conn.GetStream();
                var buf = new byte[65536];
                int n;
                while ((n = stream.Read(buf)) > 0) receivedByApp += n;
            });
            var sender = Task.Run(() => Shell.Run("ip",
                $"netns exec {ns} /usr/bin/python3 -c \"import socket; s=socket.create_connection(('{local}',{tcpPort})); s.sendall(b'x'*{bytes}); s.close()\"",
                timeoutMs: 20_000));

            var seqs = new SortedDictionary<uint, int>();
            int frames = 0, maxLength = 0;
            var batch = new PacketBatch(64);
            var sw = Stopwatch.StartNew();
            var idle = Stopwatch.StartNew();
            // Runs until the transfer is over and the ring has been quiet for a while (the last block closes on
            // its timeout after the transfer ends).
            while (!(sender.IsCompleted && server.IsCompleted && idle.ElapsedMilliseconds > 300) && sw.ElapsedMilliseconds < 20_000)
            {
                batch.Clear();
                if (port.RxBurst(batch) == 0)
                {
                    AfPacketPortTests.Poll(port.PollFd, 5);
                    continue;
                }
                idle.Restart();
                foreach (ref Frame f in batch.Frames)
                {
                    var data = f.Data;
                    if (!IsTcpFrom(data, IPAddress.Parse(remote), tcpPort)) continue;
                    frames++;
                    maxLength = Math.Max(maxLength, data.Length);
                    Assert.True(data.Length <= 1500 + 14, $"frame of {data.Length} bytes");
                    Assert.True(ChecksumOracle.IpHeaderOk(data[14..]), "bad IPv4 header checksum");
                    Assert.True(ChecksumOracle.L4Ok(data[14..]), "bad TCP checksum");
                    int ihl = (data[14] & 0xF) * 4;
                    int tot = BinaryPrimitives.ReadUInt16BigEndian(data[16..]);
                    Assert.Equal(data.Length - 14, tot);
                    int payload = tot - ihl - (data[14 + ihl + 12] >> 4) * 4;
                    uint seq = BinaryPrimitives.ReadUInt32BigEndian(data[(14 + ihl + 4)..]);
                    if (payload > 0) seqs[seq] = payload;
                }
                port.RxDone(batch);
            }
            sender.Wait();
            server.Wait();
            Assert.Equal(bytes, receivedByApp);
            port.RefreshStatistics();
            Assert.Equal(0, port.Counters.RxDropped);
            // Every payload byte the stack sent passed through the port, in MSS-sized frames.
            long covered = 0;
            uint? next = null;
            foreach (var (seq, len) in seqs)
            {
                if (next is uint n && seq != n) Assert.Fail($"gap or overlap at seq {seq}, expected {n}");
                next = seq + (uint)len;
                covered += len;
            }
            Assert.Equal(bytes, covered);
            Assert.True(port.GsoFrames > 0, "no GSO super-frame was seen: the test did not exercise segmentation");
            Assert.True(port.ChecksumsCompleted > 0, "no CHECKSUM_PARTIAL frame was seen");
            Assert.Equal(0, port.OffloadDropped);
            Assert.True(frames >= bytes / 1448);
        }
        finally
        {
            Shell.Ip($"netns del {ns}", check: false);
        }
    }

    private static bool IsTcpFrom(ReadOnlySpan<byte> f, IPAddress source, int tcpPort) =>
        f.Length >= 54 && BinaryPrimitives.ReadUInt16BigEndian(f[12..]) == 0x0800 && f[23] == 6
        && f.Slice(26, 4).SequenceEqual(source.GetAddressBytes())
        && BinaryPrimitives.ReadUInt16BigEndian(f[(14 + (f[14] & 0xF) * 4 + 2)..]) == tcpPort;
}
