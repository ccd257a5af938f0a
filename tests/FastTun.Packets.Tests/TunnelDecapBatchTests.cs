using System.Buffers.Binary;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Tests;

/// <summary>The batch decap of a hub (#15 item 5: prefetch passes before the decap pass) against the per-packet
/// <see cref="TunnelDecap.Decapsulate(TunnelTable, ref Frame, out Tunnel?)"/> as the oracle: same verdict, same
/// frame, same counters, on a corpus of good and bad packets from many spokes.</summary>
public class TunnelDecapBatchTests
{
    private const uint Hub = 0xAC0C010A;
    private static uint Spoke(int i) => 0x0A000000u | (uint)(i + 1);

    private static List<Tunnel> HubTunnels(int spokes)
    {
        var list = new List<Tunnel>();
        for (int i = 0; i < spokes; i++)
        {
            list.Add(new Tunnel(new TunnelSettings($"tun{2 * i}", TunnelMode.Ipip, Hub, Spoke(i)), 1));
            list.Add(new Tunnel(new TunnelSettings($"tun{2 * i + 1}", TunnelMode.Gre, Hub, Spoke(i), key: (uint)i,
                checksum: i % 3 == 0), 1));
        }
        return list;
    }

    /// <summary>Good packets of every spoke, plus wrong keys, unknown remotes, missing checksums, corrupted headers,
    /// truncations and random bytes; each written into two frames (oracle and batch).</summary>
    private static (Frame[] Oracle, Frame[] Batch) Corpus(FramePool pool, int count, int spokes, int seed)
    {
        var rng = new Random(seed);
        var oracle = new Frame[count];
        var batch = new Frame[count];
        for (int j = 0; j < count; j++)
        {
            Frame f = default;
            Assert.True(pool.TryRent(ref f));
            int innerLength = rng.Next(20, 120);
            f.Length = innerLength;
            Span<byte> p = f.Data;
            rng.NextBytes(p);
            Ipv4Header.Write(p, 0, (ushort)innerLength, 1, true, 63, Ipv4Header.ProtocolUdp, 0x0A01050A, 0x0A01080A);
            int spoke = rng.Next(spokes + 2); // spokes and spokes+1: unknown remotes
            int kind = rng.Next(10);
            var settings = kind switch
            {
                < 4 => new TunnelSettings("s", TunnelMode.Ipip, Spoke(spoke), Hub),
                4 => new TunnelSettings("s", TunnelMode.Gre, Spoke(spoke), Hub, key: (uint)spoke + 1), // wrong key
                5 => new TunnelSettings("s", TunnelMode.Gre, Spoke(spoke), Hub), // no key
                _ => new TunnelSettings("s", TunnelMode.Gre, Spoke(spoke), Hub, key: (uint)spoke, checksum: rng.Next(2) == 0),
            };
            Assert.Equal(DropReason.None, TunnelEncap.Encapsulate(new Tunnel(settings, 1), ref f));
            switch (rng.Next(12))
            {
                case 0: f.Data[rng.Next(f.Length)] ^= (byte)(1 << rng.Next(8)); break; // a flipped bit anywhere
                case 1: f.Length = rng.Next(0, f.Length); break;                       // truncated
                case 2: rng.NextBytes(f.Data); break;                                  // garbage
            }
            Frame copy = default;
            Assert.True(pool.TryRent(ref copy));
            copy.Offset = f.Offset;
            copy.Length = f.Length;
            f.Data.CopyTo(copy.Data);
            oracle[j] = f;
            batch[j] = copy;
        }
        return (oracle, batch);
    }

    [Theory]
    [InlineData(200, false)]  // 400 tunnels: 2,048 slots, below TunnelTable.PrefetchSlots, decapsulated without prefetches
    [InlineData(1500, false)] // 3,000 tunnels: 8,192 slots, the slot line asked for 8 packets ahead
    [InlineData(1500, true)]  // the same with every fifth frame dropped before the batch (no lookup, left alone)
    public void DecapsulateBatch_HubCorpus_MatchesPerPacketDecapsulate(int spokes, bool someDropped)
    {
        const int count = 2_000;
        using var pool = new FramePool(2 * count + 8, 2048, 128);
        var oracleTunnels = HubTunnels(spokes);
        var batchTunnels = HubTunnels(spokes);
        var oracleTable = new TunnelTable(oracleTunnels);
        var batchTable = new TunnelTable(batchTunnels);
        Assert.Equal(spokes >= 1500, batchTable.Snapshot.Length >= TunnelTable.PrefetchSlots);
        var (oracle, batch) = Corpus(pool, count, spokes, 15);
        if (someDropped)
            for (int j = 0; j < count; j += 5) oracle[j].Drop = batch[j].Drop = DropReason.NotForUs;

        int expectedDone = 0;
        for (int j = 0; j < count; j++)
        {
            if (oracle[j].Drop != DropReason.None) continue;
            var reason = TunnelDecap.Decapsulate(oracleTable, ref oracle[j], out _);
            oracle[j].Drop = reason;
            if (reason == DropReason.None) expectedDone++;
        }
        int done = 0;
        for (int start = 0; start < count; start += 64)
            done += TunnelDecap.DecapsulateBatch(batchTable, batch.AsSpan(start, Math.Min(64, count - start)));

        Assert.Equal(expectedDone, done);
        Assert.InRange(done, count / 4, count - 1); // the corpus has both outcomes in numbers
        for (int j = 0; j < count; j++)
        {
            Assert.Equal(oracle[j].Drop, batch[j].Drop);
            Assert.Equal(oracle[j].Offset, batch[j].Offset);
            Assert.Equal(oracle[j].Length, batch[j].Length);
        }
        for (int t = 0; t < oracleTunnels.Count; t++)
        {
            Assert.Equal(oracleTunnels[t].DecapPackets, batchTunnels[t].DecapPackets);
            Assert.Equal(oracleTunnels[t].DecapBytes, batchTunnels[t].DecapBytes);
        }
    }

    [Fact]
    public void DecapsulateBatch_FramesAlreadyDropped_LeftAlone()
    {
        using var pool = new FramePool(16, 2048, 128);
        var table = new TunnelTable(HubTunnels(4));
        var (_, batch) = Corpus(pool, 4, 4, 3);
        foreach (ref Frame f in batch.AsSpan()) f.Drop = DropReason.NotForUs;
        var before = batch.ToArray();
        Assert.Equal(0, TunnelDecap.DecapsulateBatch(table, batch));
        Assert.Equal(before, batch);
    }

    [Fact]
    public void TryReadKey_RandomBytesAnyLength_NeverThrowsAndReadsHeaderFields()
    {
        var rng = new Random(9);
        var buffer = new byte[80];
        for (int i = 0; i < 20_000; i++)
        {
            rng.NextBytes(buffer);
            if (rng.Next(2) == 0) buffer[Ipv4Header.ProtocolOffset] = (byte)(rng.Next(2) == 0 ? 4 : 47);
            var packet = buffer.AsSpan(0, rng.Next(buffer.Length + 1));
            bool ok = TunnelTable.TryReadKey(packet, out uint src, out uint dst, out byte protocol, out bool hasKey, out _);
            if (!ok) continue;
            Assert.True(protocol is 4 or 47);
            Assert.Equal(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(12)), src);
            Assert.Equal(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(16)), dst);
            if (protocol == 4) Assert.False(hasKey);
        }
    }
    [Fact]
    public void TryReadKey_RandomBytesAnyLength_MatchesTryReadEndpoints()
    {
        var rng = new Random(19);
        var buffer = new byte[80];
        int read = 0;
        for (int i = 0; i < 50_000; i++)
        {
            rng.NextBytes(buffer);
            if (rng.Next(4) != 0) buffer[Ipv4Header.ProtocolOffset] = (byte)(rng.Next(2) == 0 ? 4 : 47);
            if (rng.Next(2) == 0) buffer[0] = (byte)(0x40 | rng.Next(5, 16)); // IHL 5..15: the GRE header anywhere
            var packet = buffer.AsSpan(0, rng.Next(buffer.Length + 1));
            bool expected = TryReadEndpoints(packet, out uint src, out uint dst, out byte protocol, out bool hasKey, out uint key);
            bool ok = TunnelTable.TryReadKey(packet, out uint src2, out uint dst2, out byte protocol2, out bool hasKey2, out uint key2);
            Assert.Equal(expected, ok);
            if (!ok) continue;
            read++;
            Assert.Equal((src, dst, protocol, hasKey, key), (src2, dst2, protocol2, hasKey2, key2));
        }
        Assert.InRange(read, 10_000, 50_000);
    }

    /// <summary>
    /// The tunnel-table key of a packet whose data starts at an IPv4 header: outer source and destination, protocol
    /// (4 or 47) and the GRE key (0 and <paramref name="hasKey"/> false when there is none). False when the packet is
    /// not IPIP or GRE or too short to tell. The span-based oracle of TunnelTable.TryReadKey, which the pipeline and the batch use.
    /// </summary>
    private static bool TryReadEndpoints(ReadOnlySpan<byte> packet, out uint source, out uint destination, out byte protocol,
        out bool hasKey, out uint key)
    {
        source = destination = key = 0;
        hasKey = false;
        protocol = 0;
        if (packet.Length < Ipv4Header.MinLength) return false;
        protocol = packet[Ipv4Header.ProtocolOffset];
        source = BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(Ipv4Header.SourceOffset));
        destination = BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(Ipv4Header.DestinationOffset));
        if (protocol == Ipv4Header.ProtocolIpip) return true;
        if (protocol != Ipv4Header.ProtocolGre) return false;
        int gre = (packet[Ipv4Header.VersionIhlOffset] & 0x0F) << 2;
        if (packet.Length < gre + GreHeader.OptionsOffset) return false;
        uint flags = BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(gre));
        if ((flags & GreHeader.FlagKey) == 0) return true;
        int offset = gre + GreHeader.OptionsOffset + ((flags & GreHeader.FlagChecksum) != 0 ? 4 : 0);
        if (packet.Length < offset + 4) return false;
        key = BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(offset));
        hasKey = true;
        return true;
    }
}
