using FastTun.Packets.Datapath;
using FastTun.Packets.Routing;
using FastTun.Packets.Tunnels;
using Xunit;
using static FastTun.Packets.Tests.Pipeline.SeedLab;

namespace FastTun.Packets.Tests.Pipeline;

/// <summary>
/// The decap run's outer source verdict cached per tunnel and worker (hub7s; Pipeline.Route.cs, SourceAllowedOuter): a
/// hub's batch of IPIP packets from spokes that take turns, so that every packet after the run's first changes tunnel
/// and outer source and takes the cached verdict. A route change, an rp-filter change, another in-port and a source
/// that is not the cached one (a rebuilt tunnel sharing its predecessor's entries) must each give the verdict the full
/// check gives: the packets of the affected spoke are dropped (or delivered) from the next batch on, with the same
/// reason, and its tunnel counts exactly the packets it decapsulated.
/// </summary>
public sealed class SourceVerdictCacheTests
{
    private const uint SpokeA = 0xAC0C0163; // 172.12.1.99, on eth2's connected subnet
    private const uint SpokeB = 0xAC0C0162; // 172.12.1.98
    private const uint Unrouted = 0x64400001; // 100.64.0.1: gw2 has no route back to it (no default route)

    private sealed class Hub
    {
        public required SeedLab Lab;
        public required Packets.Datapath.Pipeline Gw;
        public required Tunnel A, B;
        public required TunnelTable Decap;
        public ForwardingState State = null!;

        /// <summary>gw2's state with its tunnel table replaced by <see cref="Decap"/> and the source check <paramref name="sources"/>.</summary>
        public void Use(SourceCheck sources)
        {
            ForwardingState s = Lab.State2;
            State = new ForwardingState(s.Routes, s.NextHops, s.Ports, s.Tunnels, Decap) { Sources = sources };
        }

        /// <summary>One batch: <paramref name="count"/> IPIP pings from server1 to server2, spoke by spoke in turn.</summary>
        public List<Sent> Run(int count, params (uint Spoke, ushort Port)[] spokes)
        {
            var frames = new (ushort, byte[])[count];
            for (int i = 0; i < count; i++)
            {
                var (spoke, port) = spokes[i % spokes.Length];
                ulong mac = port == Eth1 ? Gw2Eth1Mac : Gw2Eth2Mac;
                frames[i] = (port, Eth(mac, 0x02aabbccdd01, Ipip(spoke, Gw2Wan, Ping(Server1, Server2, seq: (ushort)i))));
            }
            return Lab.Run(Gw, frames).Rx;
        }
    }

    private static Hub NewHub(SeedLab lab, RpFilterMode mode, uint remoteA = SpokeA)
    {
        var a = new Tunnel(new TunnelSettings("tun1", TunnelMode.Ipip, Gw2Wan, remoteA));
        var b = new Tunnel(new TunnelSettings("tun2", TunnelMode.Ipip, Gw2Wan, SpokeB));
        var hub = new Hub { Lab = lab, Gw = null!, A = a, B = b, Decap = new TunnelTable([lab.State2.Tunnels[0].Tunnel, a, b]) };
        hub.Use(new SourceCheck(mode, lab.State2.Sources.OwnAddresses));
        hub.Gw = new Packets.Datapath.Pipeline(() => hub.State, lab.Neighbors2);
        return hub;
    }

    [Fact]
    public void Process_RouteChangeAfterVerdictCached_SpokeVerdictFollowsRoute()
    {
        using var lab = new SeedLab(rpFilter: RpFilterMode.Loose);
        var hub = NewHub(lab, RpFilterMode.Loose);
        var both = new[] { (SpokeB, Eth2), (SpokeA, Eth2) };

        Assert.All(hub.Run(40, both), r => Assert.Equal(DropReason.None, r.Drop));
        Assert.Equal((20, 20), (hub.A.DecapPackets, hub.B.DecapPackets));

        // In place, as `fasttun route add`: the way back to spoke A becomes a blackhole (rp-filter drops, as Linux).
        uint discard = hub.State.AddNextHop(NextHop.Discard);
        hub.State.Routes.AddOrReplace(SpokeA, 32, discard);
        long fastBefore = hub.Gw.DecapFastPackets;
        var rx = hub.Run(40, both);
        Assert.Equal(Enumerable.Range(0, 40).Select(i => i % 2 == 1 ? DropReason.RpFilter : DropReason.None), rx.Select(r => r.Drop));
        Assert.Equal((20, 40), (hub.A.DecapPackets, hub.B.DecapPackets));
        Assert.True(hub.Gw.DecapFastPackets - fastBefore >= 19, "the batch went through the decap run");

        // And back: the route deleted, spoke A's packets are allowed again.
        Assert.True(hub.State.Routes.Delete(SpokeA, 32));
        Assert.All(hub.Run(40, both), r => Assert.Equal(DropReason.None, r.Drop));
        Assert.Equal((40, 60), (hub.A.DecapPackets, hub.B.DecapPackets));
    }

    [Theory]
    [InlineData(RpFilterMode.Off, RpFilterMode.Loose)]
    [InlineData(RpFilterMode.Loose, RpFilterMode.Off)]
    public void Process_RpFilterChangeAfterVerdictCached_SpokeVerdictFollowsState(RpFilterMode before, RpFilterMode after)
    {
        // Spoke A's remote has no route back: off allows it, loose drops it.
        using var lab = new SeedLab(rpFilter: RpFilterMode.Off);
        var hub = NewHub(lab, before, remoteA: Unrouted);
        var both = new[] { (SpokeB, Eth2), (Unrouted, Eth2) };
        DropReason Verdict(RpFilterMode m) => m == RpFilterMode.Off ? DropReason.None : DropReason.RpFilter;
        long a = 0;
        foreach (RpFilterMode mode in new[] { before, before, after, after })
        {
            if (mode != hub.State.Sources.Mode) hub.Use(new SourceCheck(mode, lab.State2.Sources.OwnAddresses)); // a reload: a new state
            var rx = hub.Run(40, both);
            Assert.Equal(Enumerable.Range(0, 40).Select(i => i % 2 == 1 ? Verdict(mode) : DropReason.None), rx.Select(r => r.Drop));
            a += Verdict(mode) == DropReason.None ? 20 : 0;
            Assert.Equal(a, hub.A.DecapPackets);
        }
    }

    [Fact]
    public void Process_InPortChangeAfterVerdictCached_StrictVerdictFollowsPort()
    {
        // Strict: the way back to spoke A leaves by eth2, so its packets are allowed from eth2 and refused from eth1.
        using var lab = new SeedLab(rpFilter: RpFilterMode.Strict);
        var hub = NewHub(lab, RpFilterMode.Strict);
        hub.Run(40, (SpokeB, Eth2), (SpokeA, Eth2));
        Assert.Equal((20, 20), (hub.A.DecapPackets, hub.B.DecapPackets));

        var rx = hub.Run(40, (SpokeB, Eth2), (SpokeA, Eth1));
        Assert.All(rx.Where((_, i) => i % 2 == 1), r => Assert.Equal(DropReason.RpFilter, r.Drop));
        Assert.Equal((20, 40), (hub.A.DecapPackets, hub.B.DecapPackets));

        // Both ports in one batch: each packet judged by its own port.
        rx = hub.Run(60, (SpokeB, Eth2), (SpokeA, Eth1), (SpokeA, Eth2));
        Assert.All(rx.Where((_, i) => i % 3 == 1), r => Assert.Equal(DropReason.RpFilter, r.Drop));
        Assert.Equal((40, 60), (hub.A.DecapPackets, hub.B.DecapPackets));
    }

    [Fact]
    public void Process_SourceNotTheCachedOne_GetsFullCheck()
    {
        // Tunnel A rebuilt with a remote that has no route back, sharing A's per-worker entries (its running state),
        // added in place: same state, same route version, so only the source in the cached key tells them apart.
        using var lab = new SeedLab(rpFilter: RpFilterMode.Loose);
        var hub = NewHub(lab, RpFilterMode.Loose);
        Assert.All(hub.Run(40, (SpokeB, Eth2), (SpokeA, Eth2)), r => Assert.Equal(DropReason.None, r.Drop));
        var rebuilt = new Tunnel(new TunnelSettings("tun1", TunnelMode.Ipip, Gw2Wan, Unrouted), hub.A);
        hub.Decap.Add(rebuilt);

        var rx = hub.Run(40, (SpokeB, Eth2), (Unrouted, Eth2));
        Assert.Equal(Enumerable.Range(0, 40).Select(i => i % 2 == 1 ? DropReason.RpFilter : DropReason.None), rx.Select(r => r.Drop));
        Assert.Equal(20, rebuilt.DecapPackets); // the shared counters: A's 20, nothing from the refused source

        // The old remote still gets its own (allowed) verdict through the same entries.
        Assert.All(hub.Run(40, (SpokeB, Eth2), (SpokeA, Eth2)), r => Assert.Equal(DropReason.None, r.Drop));
        Assert.Equal(40, rebuilt.DecapPackets);
    }

    [Fact]
    public void Process_ManySpokesCachedVerdicts_MatchGeneralPath()
    {
        // 64 spokes, some with no route back, in random order over many batches with route changes between them: the
        // decap run (cached verdicts) against the general path (DecapFastEnabled off), drop by drop.
        using var fastLab = new SeedLab(rpFilter: RpFilterMode.Loose);
        using var slowLab = new SeedLab(rpFilter: RpFilterMode.Loose);
        var spokes = Enumerable.Range(0, 64).Select(i => i % 4 == 3 ? Unrouted + (uint)i : 0xAC0C0140u + (uint)i).ToArray();
        Hub Make(SeedLab lab)
        {
            var tunnels = spokes.Select((r, i) => new Tunnel(new TunnelSettings($"tun{i + 1}", TunnelMode.Ipip, Gw2Wan, r))).ToList();
            var hub = new Hub { Lab = lab, Gw = null!, A = tunnels[0], B = tunnels[1], Decap = new TunnelTable([lab.State2.Tunnels[0].Tunnel, .. tunnels]) };
            hub.Use(lab.State2.Sources);
            hub.Gw = new Packets.Datapath.Pipeline(() => hub.State, lab.Neighbors2);
            return hub;
        }
        Hub fast = Make(fastLab), slow = Make(slowLab);
        slow.Gw.DecapFastEnabled = false;
        var rng = new Random(77);
        uint discardFast = fast.State.AddNextHop(NextHop.Discard), discardSlow = slow.State.AddNextHop(NextHop.Discard);
        for (int round = 0; round < 60; round++)
        {
            if (round % 5 == 4)
            {
                uint spoke = spokes[rng.Next(spokes.Length)];
                bool add = rng.Next(2) == 0;
                foreach (var (hub, discard) in new[] { (fast, discardFast), (slow, discardSlow) })
                    if (add) hub.State.Routes.AddOrReplace(spoke, 32, discard);
                    else hub.State.Routes.Delete(spoke, 32);
            }
            var order = Enumerable.Range(0, 64).Select(_ => (spokes[rng.Next(spokes.Length)], rng.Next(8) == 0 ? Eth1 : Eth2)).ToArray();
            var rxFast = fast.Run(64, order);
            var rxSlow = slow.Run(64, order);
            Assert.Equal(rxSlow.Select(r => r.Drop), rxFast.Select(r => r.Drop));
        }
        Assert.True(fast.Gw.DecapFastPackets > 1000, $"decap run took {fast.Gw.DecapFastPackets}");
    }

    [Fact]
    public void Process_HubSizedTableCachedVerdicts_MatchGeneralPath()
    {
        // As above on a table large enough for pass 1's hints (≥ 4,096 slots), so the decap run prefetches the decap
        // entries of hinted items ahead (hub8e), displaced spokes' hints name other tunnels' slots or empty ones, and
        // spokes lose and regain their route back between batches: every drop, and every tunnel's counters, as the
        // general path's.
        using var fastLab = new SeedLab(rpFilter: RpFilterMode.Loose);
        using var slowLab = new SeedLab(rpFilter: RpFilterMode.Loose);
        const uint SpokeNet = 0x0A400000; // 10.64.0.0/16, routed back through eth2
        var spokes = Enumerable.Range(0, 3000).Select(i => i % 4 == 3 ? Unrouted + (uint)i : SpokeNet + 1 + (uint)i * 7).ToArray();
        (Hub Hub, List<Tunnel> Tunnels) Make(SeedLab lab)
        {
            var tunnels = spokes.Select((r, i) => new Tunnel(new TunnelSettings($"tun{i + 1}", TunnelMode.Ipip, Gw2Wan, r))).ToList();
            var hub = new Hub { Lab = lab, Gw = null!, A = tunnels[0], B = tunnels[1], Decap = new TunnelTable([lab.State2.Tunnels[0].Tunnel, .. tunnels]) };
            hub.Use(lab.State2.Sources);
            hub.State.Routes.AddOrReplace(SpokeNet, 16, 2); // eth2's connected hop
            hub.Gw = new Packets.Datapath.Pipeline(() => hub.State, lab.Neighbors2);
            return (hub, tunnels);
        }
        var (fast, fastTunnels) = Make(fastLab);
        var (slow, slowTunnels) = Make(slowLab);
        Assert.True(fast.Decap.Snapshot.Length >= TunnelTable.PrefetchSlots, "hints on");
        slow.Gw.DecapFastEnabled = false;
        var rng = new Random(78);
        uint discardFast = fast.State.AddNextHop(NextHop.Discard), discardSlow = slow.State.AddNextHop(NextHop.Discard);
        int[] active = [.. Enumerable.Range(0, 200).Select(_ => rng.Next(spokes.Length))];
        for (int round = 0; round < 40; round++)
        {
            if (round % 4 == 3)
            {
                uint spoke = spokes[active[rng.Next(active.Length)]];
                bool add = rng.Next(2) == 0;
                foreach (var (hub, discard) in new[] { (fast, discardFast), (slow, discardSlow) })
                    if (add) hub.State.Routes.AddOrReplace(spoke, 32, discard);
                    else hub.State.Routes.Delete(spoke, 32);
            }
            var order = Enumerable.Range(0, 64).Select(_ => (spokes[active[rng.Next(active.Length)]], rng.Next(8) == 0 ? Eth1 : Eth2)).ToArray();
            var rxFast = fast.Run(64, order);
            var rxSlow = slow.Run(64, order);
            Assert.Equal(rxSlow.Select(r => r.Drop), rxFast.Select(r => r.Drop));
        }
        Assert.Equal(slowTunnels.Select(t => (t.DecapPackets, t.DecapBytes)), fastTunnels.Select(t => (t.DecapPackets, t.DecapBytes)));
        Assert.Contains(slowTunnels, t => t.DecapPackets > 0);
        Assert.True(fast.Gw.DecapFastPackets > 1000, $"decap run took {fast.Gw.DecapFastPackets}");
    }

    [Fact]
    public void Process_OldSequenceDroppedBetweenTwoTunnels_NextPacketStaysWithItsTunnel()
    {
        // Keyed GRE with sequence numbers from two spokes: Y (5) in one batch; then X, Y (3, old: dropped after the probe), Y (6).
        // The run remembers the last probe's answer for the next packet with the same key: that must be Y's slot, not
        // the slot whose counters it holds (X's), or Y's packet is decapsulated, metered and counted as X's.
        using var lab = new SeedLab(rpFilter: RpFilterMode.Loose);
        var x = new Tunnel(new TunnelSettings("tun1", TunnelMode.Gre, Gw2Wan, SpokeA, key: 1, sequence: true));
        var y = new Tunnel(new TunnelSettings("tun2", TunnelMode.Gre, Gw2Wan, SpokeB, key: 2, sequence: true));
        var hub = new Hub { Lab = lab, Gw = null!, A = x, B = y, Decap = new TunnelTable([lab.State2.Tunnels[0].Tunnel, x, y]) };
        hub.Use(lab.State2.Sources);
        hub.Gw = new Packets.Datapath.Pipeline(() => hub.State, lab.Neighbors2);
        byte[] Frame(uint spoke, uint key, uint seq) => Eth(Gw2Eth2Mac, 0x02aabbccdd01, Gre(spoke, key, seq, Ping(Server1, Server2, seq: (ushort)seq)));
        Assert.Equal(DropReason.None, lab.Run(hub.Gw, (Eth2, Frame(SpokeB, 2, 5))).Rx[0].Drop);
        var rx = lab.Run(hub.Gw, (Eth2, Frame(SpokeA, 1, 0)), (Eth2, Frame(SpokeB, 2, 3)), (Eth2, Frame(SpokeB, 2, 6))).Rx;
        Assert.Equal([DropReason.None, DropReason.GreSequenceOld, DropReason.None], rx.Select(r => r.Drop));
        Assert.Equal((1, 2), (x.DecapPackets, y.DecapPackets));
        Assert.Equal((1, 3), (x.SequenceMeter.Received, y.SequenceMeter.Received));
        Assert.True(hub.Gw.DecapFastPackets >= 3, "the decap run took them");
    }

    private static byte[] Gre(uint outerSource, uint key, uint sequence, byte[] inner)
    {
        var p = new byte[32 + inner.Length];
        Headers.Ipv4Header.Write(p, 0, (ushort)p.Length, 7, true, 64, Headers.Ipv4Header.ProtocolGre, outerSource, Gw2Wan);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(20), Headers.GreHeader.FlagKey | Headers.GreHeader.FlagSequence);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(22), 0x0800);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(24), key);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(28), sequence);
        inner.CopyTo(p, 32);
        return p;
    }

    [Fact]
    public void Version_EveryChange_Increases()
    {
        var table = new Lpm4Table();
        long v0 = table.Version;
        table.AddOrReplace(0x0A000000, 8, 1);
        long v1 = table.Version;
        table.AddOrReplace(0x0A000000, 8, 2); // replace
        long v2 = table.Version;
        table.AddRange([new Route4(0x0B000000, 24, 3)]);
        long v3 = table.Version;
        table.Delete(0x0A000000, 8);
        long v4 = table.Version;
        Assert.True(v0 < v1 && v1 < v2 && v2 < v3 && v3 < v4, $"{v0} {v1} {v2} {v3} {v4}");
    }

    private static byte[] Ipip(uint outerSource, uint outerDestination, byte[] inner)
    {
        var p = new byte[20 + inner.Length];
        Headers.Ipv4Header.Write(p, 0, (ushort)p.Length, 7, true, 64, Headers.Ipv4Header.ProtocolIpip, outerSource, outerDestination);
        inner.CopyTo(p, 20);
        return p;
    }
}
