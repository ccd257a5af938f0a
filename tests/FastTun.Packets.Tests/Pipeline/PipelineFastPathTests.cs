using System.Buffers.Binary;
using FastTun.Packets.Checksum;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using FastTun.Packets.Routing;
using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Tests.Pipeline;

/// <summary>
/// The pipeline's fast paths (pass 3's TryForwardFast, the encap run's fast loop) and the general steps they fall
/// back to, against slow oracles. Encapsulation: TTL − 1
/// by <see cref="IncrementalChecksum.TryDecrementTtl"/>, then <see cref="TunnelEncap.Encapsulate(Tunnel, ref Frame)"/>
/// on a twin tunnel with the same settings and first IP ID, then the Ethernet header, byte for byte, for every
/// combination of the tunnel settings that change the outer header. Forwarding: TTL − 1, then the Ethernet header.
/// </summary>
public sealed class PipelineFastPathTests
{
    private const ulong Gw1Eth1Mac = 0x020000000101, Gw1Eth2Mac = 0x020000000102, Gw2Eth2Mac = 0x020000000202, Server1Mac = 0xaac1ab526107;
    private const uint Server1 = 0x0A01050A, Gw1Wan = 0xAC0C010A, Gw2Wan = 0xAC0C010B;

    public static TheoryData<TunnelMode, byte, bool, bool, bool> Settings()
    {
        var data = new TheoryData<TunnelMode, byte, bool, bool, bool>();
        foreach (var mode in new[] { TunnelMode.Ipip, TunnelMode.Gre })
        foreach (byte ttl in new byte[] { 0, 255 })
        foreach (bool inheritTos in new[] { true, false })
        foreach (bool pmtu in new[] { true, false })
            if (pmtu || ttl == 0) data.Add(mode, ttl, inheritTos, pmtu, mode == TunnelMode.Gre); // nopmtudisc needs ttl inherit
        data.Add(TunnelMode.Gre, 0, true, true, false); // GRE without key, checksum or sequence
        return data;
    }

    [Theory]
    [MemberData(nameof(Settings))]
    public void Process_BatchIntoTunnel_MatchesEncapsulateOracle(TunnelMode mode, byte ttl, bool inheritTos, bool pmtu, bool keyCsumSeq)
    {
        var settings = new TunnelSettings("tun0", mode, Gw1Wan, Gw2Wan, ttl: ttl,
            tos: inheritTos ? TunnelTos.InheritFromInner : TunnelTos.Fixed(0xB8), pmtuDiscovery: pmtu,
            key: keyCsumSeq ? 42u : null, checksum: keyCsumSeq, sequence: keyCsumSeq);
        var tunnel = new Tunnel(settings);
        var state = State(tunnel, settings, underlayMtu: 1500);
        var neighbors = new NeighborTable();
        neighbors.AddStatic(1, Gw2Wan, Gw2Eth2Mac, 0);
        neighbors.AddStatic(0, Server1, Server1Mac, 0);
        using var gw = new Packets.Datapath.Pipeline(() => state, neighbors);
        using var pool = new FramePool(256, 2048);

        // Two batches: the second continues the ID and sequence counters the first wrote back.
        var oracle = new Tunnel(settings);
        var rng = new Random(7);
        for (int round = 0; round < 2; round++)
        {
            var inputs = new List<byte[]>();
            var batch = new PacketBatch(64);
            for (int i = 0; i < 48; i++)
            {
                // Every TOS value's ECN, TTLs from 2 up, DF on and off, payloads of 0 to 1400 bytes; one frame with an
                // inner packet too big for the tunnel MTU but not DF (fragmented: the general path mid-run).
                int payload = i == 20 ? 1472 : rng.Next(0, 1400);
                bool df = i != 20 && rng.Next(2) == 0;
                var ip = Udp(payload, (byte)rng.Next(256), (ushort)rng.Next(65536), df, (byte)rng.Next(2, 256), Server1,
                    0x0A010800u | (uint)rng.Next(1, 255));
                inputs.Add(ip);
                AddReceived(batch, pool, SeedLab.Eth(Gw1Eth1Mac, Server1Mac, ip), 0);
            }
            var output = gw.Process(batch, 1000);
            var sent = new List<byte[]>();
            foreach (ref Frame f in output.Frames)
                if (f.Drop == DropReason.None && f.OutPort == 1) sent.Add(f.Data.ToArray());
            gw.Transmitted(batch);
            foreach (ref Frame f in batch.Frames) pool.Return(f);

            if (round == 0) oracle.SetNextId(BinaryPrimitives.ReadUInt16BigEndian(sent[0].AsSpan(14 + 4)));
            var expected = new List<byte[]>();
            foreach (var ip in inputs)
            {
                var forwarded = (byte[])ip.Clone();
                Assert.True(IncrementalChecksum.TryDecrementTtl(forwarded));
                if (forwarded.Length > state.Tunnels[0].Mtu(0))
                {
                    // The general path: two fragments, each encapsulated in turn.
                    var pieces = new PacketBatch(8);
                    Assert.Equal(DropReason.None, Ipv4Fragmenter.Fragment(forwarded, state.Tunnels[0].Mtu(0), pool, pieces, default, 8));
                    foreach (ref Frame piece in pieces.Frames)
                    {
                        expected.Add(Encapsulated(oracle, pool, piece.Data.ToArray()));
                        pool.Return(piece);
                    }
                    continue;
                }
                expected.Add(Encapsulated(oracle, pool, forwarded));
            }
            Assert.Equal(expected.Count, sent.Count);
            for (int i = 0; i < expected.Count; i++) Assert.Equal(Convert.ToHexString(expected[i]), Convert.ToHexString(sent[i]));
        }
        Assert.Equal(oracle.EncapPacketsOf(0), tunnel.EncapPacketsOf(0));
    }

    /// <summary>An IPv4/UDP packet (ports 1000 → 2000) with <paramref name="payload"/> bytes of UDP payload.</summary>
    private static byte[] Udp(int payload, byte tos, ushort id, bool df, byte ttl, uint src, uint dst)
    {
        var ip = new byte[20 + 8 + payload];
        Ipv4Header.Write(ip, tos, (ushort)ip.Length, id, df, ttl, Ipv4Header.ProtocolUdp, src, dst);
        UdpHeader.Write(ip.AsSpan(20), 1000, 2000, src, dst);
        return ip;
    }

    /// <summary>Adds a frame rented from <paramref name="pool"/> to <paramref name="batch"/>: these bytes, received
    /// on <paramref name="inPort"/>.</summary>
    private static void AddReceived(PacketBatch batch, FramePool pool, byte[] frame, ushort inPort)
    {
        ref Frame f = ref batch.Add();
        Assert.True(pool.TryRent(ref f));
        f.Length = frame.Length;
        frame.CopyTo(f.Data);
        f.InPort = inPort;
    }

    private static byte[] Encapsulated(Tunnel oracle, FramePool pool, byte[] inner)
    {
        Frame f = default;
        Assert.True(pool.TryRent(ref f));
        f.Length = inner.Length;
        inner.CopyTo(f.Data);
        Assert.Equal(DropReason.None, TunnelEncap.Encapsulate(oracle, ref f));
        var frame = SeedLab.Eth(Gw2Eth2Mac, Gw1Eth2Mac, f.Data.ToArray());
        pool.Return(f);
        return frame;
    }

    private static ForwardingState State(Tunnel tunnel, TunnelSettings settings, int underlayMtu)
    {
        var ports = new[]
        {
            new PortInfo(0, "eth1", Gw1Eth1Mac, 1500, [0x0A010501u]),
            new PortInfo(1, "eth2", Gw1Eth2Mac, underlayMtu, [Gw1Wan]),
        };
        var tunnels = new[] { new TunnelPath(tunnel, settings.Mtu(underlayMtu), 0x01010101) };
        var decap = new TunnelTable();
        decap.Add(tunnel);
        var hops = new[] { NextHop.Into(0), NextHop.ConnectedTo(0), NextHop.ConnectedTo(1), NextHop.LocalDelivery };
        var table = new Lpm4Table();
        table.AddOrReplace(0x0A010800, 24, 0);
        table.AddOrReplace(0x0A010500, 24, 1);
        table.AddOrReplace(0xAC0C0100, 24, 2);
        foreach (uint own in new[] { 0x0A010501u, Gw1Wan, 0x01010101u }) table.AddOrReplace(own, 32, 3);
        var state = new ForwardingState(table, hops, ports, tunnels, decap) { Sources = new SourceCheck(RpFilterMode.Loose, [0x0A010501u, Gw1Wan]) };
        return state;
    }

    /// <summary>eth1: server1's LAN (connected); eth2 (MTU 1400): 172.12.1.0/24 connected and 10.1.9.0/24 via gw2;
    /// both neighbours known.</summary>
    private static (ForwardingState State, NeighborTable Neighbors) NeighborLab()
    {
        var ports = new[]
        {
            new PortInfo(0, "eth1", Gw1Eth1Mac, 1500, [0x0A010501u]),
            new PortInfo(1, "eth2", Gw1Eth2Mac, 1400, [Gw1Wan]),
        };
        var hops = new[] { NextHop.Via(1, Gw2Wan), NextHop.ConnectedTo(0), NextHop.ConnectedTo(1), NextHop.LocalDelivery };
        var table = new Lpm4Table();
        table.AddOrReplace(0x0A010900, 24, 0);
        table.AddOrReplace(0x0A010500, 24, 1);
        table.AddOrReplace(0xAC0C0100, 24, 2);
        foreach (uint own in new[] { 0x0A010501u, Gw1Wan }) table.AddOrReplace(own, 32, 3);
        var state = new ForwardingState(table, hops, ports, [], new TunnelTable()) { Sources = new SourceCheck(RpFilterMode.Loose, [0x0A010501u, Gw1Wan]) };
        var neighbors = new NeighborTable();
        neighbors.AddStatic(1, Gw2Wan, Gw2Eth2Mac, 0);
        neighbors.AddStatic(0, Server1, Server1Mac, 0);
        return (state, neighbors);
    }

    [Fact]
    public void Process_BatchToNeighbors_MatchesForwardOracle()
    {
        // eth1: server1's LAN (connected); eth2 (MTU 1400): 10.1.9.0/24 via gw2. Frames in both directions, with a
        // TTL-1 packet and a DF packet over eth2's MTU in the middle (the general path: time exceeded, frag needed).
        var (state, neighbors) = NeighborLab();
        using var gw = new Packets.Datapath.Pipeline(() => state, neighbors);
        using var pool = new FramePool(256, 2048);
        var rng = new Random(11);
        for (int round = 0; round < 2; round++)
        {
            var batch = new PacketBatch(64);
            var inputs = new List<(byte[] Ip, bool Outbound)>();
            for (int i = 0; i < 48; i++)
            {
                bool outbound = rng.Next(2) == 0;
                int payload = i == 30 ? 1400 : rng.Next(0, 1300);
                uint src = outbound ? Server1 : 0x0A010900u | (uint)rng.Next(1, 255);
                uint dst = outbound ? 0x0A010900u | (uint)rng.Next(1, 255) : Server1;
                if (i == 30) { src = Server1; dst = 0x0A010905; outbound = true; }
                byte ttl = i == 10 ? (byte)1 : (byte)rng.Next(2, 256);
                var ip = Udp(payload, (byte)rng.Next(256), (ushort)rng.Next(65536), true, ttl, src, dst);
                inputs.Add((ip, outbound));
                AddReceived(batch, pool, outbound ? SeedLab.Eth(Gw1Eth1Mac, Server1Mac, ip) : SeedLab.Eth(Gw1Eth2Mac, Gw2Eth2Mac, ip),
                    outbound ? (ushort)0 : (ushort)1);
            }
            gw.Process(batch, 1000);
            for (int i = 0; i < inputs.Count; i++)
            {
                ref Frame f = ref batch[i];
                var (ip, outbound) = inputs[i];
                if (i == 10) { Assert.Equal(DropReason.TtlExceeded, f.Drop); continue; }
                if (i == 30) { Assert.Equal(DropReason.FragNeeded, f.Drop); continue; }
                var forwarded = (byte[])ip.Clone();
                Assert.True(IncrementalChecksum.TryDecrementTtl(forwarded));
                var expected = outbound ? SeedLab.Eth(Gw2Eth2Mac, Gw1Eth2Mac, forwarded) : SeedLab.Eth(Server1Mac, Gw1Eth1Mac, forwarded);
                Assert.Equal(DropReason.None, f.Drop);
                Assert.Equal(outbound ? (ushort)1 : (ushort)0, f.OutPort);
                Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(f.Data));
            }
            gw.Transmitted(batch);
            foreach (ref Frame f in batch.Frames) pool.Return(f);
        }
    }

    [Fact]
    public void Process_StaleNeighbor_ForwardsAndReprobes()
    {
        // A learned neighbour gone stale still carries traffic (Linux NUD_STALE), and the general path asks again.
        using var lab = new SeedLab(staticNeighbors: false);
        lab.Neighbors1.LearnFromArp(SeedLab.Eth1, SeedLab.Server1, SeedLab.Server1Mac, lab.Now, aimedAtUs: true);
        lab.Neighbors1.Age(lab.Now + NeighborTable.ReachableMs);
        lab.Now += NeighborTable.ReachableMs;
        var ping = SeedLab.Ping(SeedLab.Server2, SeedLab.Server1); // loose rp-filter: server2 routes via the tunnel
        var (sent, rx) = lab.Run(lab.Gw1, (SeedLab.Eth1, SeedLab.Eth(SeedLab.Gw1Eth1Mac, SeedLab.Server1Mac, ping)));
        Assert.Equal(DropReason.None, rx[0].Drop);
        Assert.Contains(sent, s => s.Port == SeedLab.Eth1 && s.Bytes.Length >= 14 && s.Bytes[12] == 0x08 && s.Bytes[13] == 0x06);
        Assert.Contains(sent, s => s.Port == SeedLab.Eth1 && s.Bytes[12] == 0x08 && s.Bytes[13] == 0x00);
    }

    [Fact]
    public void Process_BatchToOneGateway_MatchesForwardOracleAndCountsExactly()
    {
        // Pass 3 keeps the last gateway hop and the last accepted source in locals: a whole batch to one gateway
        // (every frame forwarded: the accounting loop is skipped), then one with a martian source, a TTL-1 packet, a
        // packet without a route right after it (Lpm4Table.NoRoute) and a packet over the MTU inside the run, each of which must leave the run's verdicts for the general path.
        var (state, neighbors) = NeighborLab();
        using var gw = new Packets.Datapath.Pipeline(() => state, neighbors);
        using var pool = new FramePool(256, 2048);
        var rng = new Random(12);
        long forwarded = 0, dropped = 0;
        for (int round = 0; round < 3; round++)
        {
            bool odd = round == 2;
            var batch = new PacketBatch(64);
            var inputs = new List<byte[]>();
            for (int i = 0; i < 64; i++)
            {
                int payload = odd && i == 50 ? 1400 : rng.Next(0, 600);
                uint src = odd && i == 20 ? 0x7F000001u : Server1 + (uint)(i / 16); // runs of sources
                uint dst = odd && i == 41 ? 0x0B000001u : 0x0A010900u | (uint)rng.Next(1, 255); // 41: no route
                byte ttl = odd && i == 40 ? (byte)1 : (byte)rng.Next(2, 256);
                var ip = Udp(payload, (byte)rng.Next(256), (ushort)rng.Next(65536), true, ttl, src, dst);
                inputs.Add(ip);
                AddReceived(batch, pool, SeedLab.Eth(Gw1Eth1Mac, Server1Mac, ip), 0);
            }
            gw.Process(batch, 1000);
            for (int i = 0; i < inputs.Count; i++)
            {
                ref Frame f = ref batch[i];
                if (odd && i == 20) { Assert.Equal(DropReason.MartianSource, f.Drop); dropped++; continue; }
                if (odd && i == 40) { Assert.Equal(DropReason.TtlExceeded, f.Drop); dropped++; continue; }
                if (odd && i == 41) { Assert.Equal(DropReason.NoRoute, f.Drop); dropped++; continue; }
                if (odd && i == 50) { Assert.Equal(DropReason.FragNeeded, f.Drop); dropped++; continue; }
                var expected = (byte[])inputs[i].Clone();
                Assert.True(IncrementalChecksum.TryDecrementTtl(expected));
                Assert.Equal(DropReason.None, f.Drop);
                Assert.Equal((ushort)1, f.OutPort);
                Assert.Equal(Convert.ToHexString(SeedLab.Eth(Gw2Eth2Mac, Gw1Eth2Mac, expected)), Convert.ToHexString(f.Data));
                forwarded++;
            }
            Assert.Equal(forwarded, gw.Counters.Forwarded);
            Assert.Equal(dropped, gw.Counters.RxDropped);
            gw.Transmitted(batch);
            foreach (ref Frame f in batch.Frames) pool.Return(f);
        }
    }
    [Fact]
    public void Process_BatchIntoTunnel_CountsExactly()
    {
        // The encap fast run tells Process how many rx frames it sent; with pass 3's port fast path covering the rest,
        // the accounting loop is skipped. Batch 1: every frame into the tunnel; batch 2: into the tunnel and out of eth2
        // (connected, the neighbour known) mixed; batch 3 adds a TTL-1 packet from behind the tunnel (its ICMP error is
        // encapsulated); batch 4 also a DF packet over the tunnel MTU, a non-DF one (fragmented: consumed, its fragments
        // built) and a martian source. Counters must match the frames'
        // own states (the accounting loop's rule) and add up to the packets received.
        var settings = new TunnelSettings("tun0", TunnelMode.Ipip, Gw1Wan, Gw2Wan);
        var tunnel = new Tunnel(settings);
        var state = State(tunnel, settings, underlayMtu: 1500);
        var neighbors = new NeighborTable();
        neighbors.AddStatic(1, Gw2Wan, Gw2Eth2Mac, 0);
        neighbors.AddStatic(0, Server1, Server1Mac, 0);
        using var gw = new Packets.Datapath.Pipeline(() => state, neighbors);
        using var pool = new FramePool(512, 2048);
        var rng = new Random(15);
        long forwarded = 0, dropped = 0, consumed = 0;
        for (int round = 0; round < 4; round++)
        {
            var batch = new PacketBatch(64);
            for (int i = 0; i < 64; i++)
            {
                bool odd = round >= 2, full = round == 3;
                int payload = full && (i == 32 || i == 33) ? 1472 : rng.Next(0, 600);
                uint src = full && i == 45 ? 0x7F000001u : odd && i == 12 ? 0x0A010805u : Server1; // 12: behind the tunnel
                uint dst = round > 0 && i % 5 == 0 ? Gw2Wan : 0x0A010800u | (uint)rng.Next(1, 255);
                byte ttl = odd && i == 12 ? (byte)1 : (byte)rng.Next(2, 256);
                var ip = Udp(payload, 0, (ushort)rng.Next(65536), !(odd && i == 33), ttl, src, dst);
                AddReceived(batch, pool, SeedLab.Eth(Gw1Eth1Mac, Server1Mac, ip), 0);
            }
            gw.Process(batch, 1000);
            foreach (ref Frame f in batch.Frames)
            {
                if (f.Drop != DropReason.None) dropped++;
                else if (f.OutPort != PacketBatch.NoPort) forwarded++;
                else consumed++;
            }
            if (round == 0) Assert.Equal(64, forwarded);
            if (round >= 2)
            {
                // 12 is dropped and its ICMP error goes back into the tunnel through the encap fast run as a built
                // frame: 63 rx frames sent + 1 built = 64, so a count that took built frames for rx frames would skip
                // the accounting loop wrongly here.
                Assert.Equal(DropReason.TtlExceeded, batch[12].Drop);
                Assert.Equal(round == 3 ? 1 : 0, consumed); // 33: fragmented
            }
            if (round == 3)
            {
                Assert.Equal(DropReason.FragNeeded, batch[32].Drop);
                Assert.Equal(DropReason.MartianSource, batch[45].Drop);
            }
            Assert.Equal(forwarded, gw.Counters.Forwarded);
            Assert.Equal(dropped, gw.Counters.RxDropped);
            Assert.Equal(consumed, gw.Counters.Consumed);
            Assert.Equal(gw.Counters.Packets, forwarded + dropped + consumed);
            gw.Transmitted(batch);
            gw.ReleaseGenerated();
            foreach (ref Frame f in batch.Frames) pool.Return(f);
        }
    }
}
