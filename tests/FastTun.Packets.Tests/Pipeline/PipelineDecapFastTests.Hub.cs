using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;
using static FastTun.Packets.Tests.Pipeline.SeedLab;

namespace FastTun.Packets.Tests.Pipeline;

public sealed partial class PipelineDecapFastTests
{
    /// <summary>
    /// The decap run with pass 1's hints (a table of <see cref="TunnelTable.HintSlots"/> slots or more: 5 tunnels and up)
    /// against the general path, for a hub of 3,000 spokes, a table of 60 (hub10: hinted too, without the entry stage) and 3
    /// (4 tunnels with the lab's: no hints, the control). Keyed GRE spokes with random remotes (some off their home slot),
    /// every 10th requiring sequence numbers and every 15th checksums, every 25th with no route back (its packets fail the
    /// outer source check), the lab's own keyed tunnel among them; frames from the first 400 spokes (or all) and from those
    /// off their home slot, in random order with runs of one spoke, mostly as their tunnel wants them, else with a sequence
    /// number or a checksum the tunnel does not require, without the flags it requires, with a wrong key or none. Frame by
    /// frame, drop by drop, counter by counter (tunnels and sequence meters) as the oracle.
    /// </summary>
    [Theory]
    [InlineData(3_000, RpFilterMode.Loose)]
    [InlineData(3_000, RpFilterMode.Strict)]
    [InlineData(3_000, RpFilterMode.Off)]
    [InlineData(60, RpFilterMode.Loose)]
    [InlineData(60, RpFilterMode.Strict)]
    [InlineData(3, RpFilterMode.Loose)]
    public void Process_HintedTableGreSpokesMixedFlags_MatchesGeneralPath(int spokes, RpFilterMode rp)
    {
        var spread = new Random(9);
        var remotes = new HashSet<uint>();
        while (remotes.Count < spokes) remotes.Add(0x0B000000u | (uint)spread.Next(1, 1 << 24));
        var remote = remotes.Select((r, i) => i % 25 == 0 ? (r & 0x00FFFFFFu) | 0x0C000000u : r).ToArray(); // 12/8: no route
        using var fastLab = new SeedLab(TunnelMode.Gre, 42u, false, false, rpFilter: rp);
        using var slowLab = new SeedLab(TunnelMode.Gre, 42u, false, false, rpFilter: rp);
        var states = new List<ForwardingState>();
        var gws = new List<Packets.Datapath.Pipeline>();
        foreach (var lab in new[] { fastLab, slowLab })
        {
            var s = lab.State2;
            var hops = s.NextHops.Append(NextHop.Via(Eth2, Gw1Wan)).ToArray();
            s.Routes.AddOrReplace(0x0B000000, 8, (uint)(hops.Length - 1)); // the spokes' way back: eth2, through gw1
            var many = new List<Tunnel>(s.Decap.Tunnels);
            for (int i = 0; i < remote.Length; i++)
                many.Add(new Tunnel(new TunnelSettings($"tun{100 + i}", TunnelMode.Gre, Gw2Wan, remote[i], key: SpokeKey(i),
                    inputSequence: i % 10 == 3, inputChecksum: i % 15 == 4)));
            var state = new ForwardingState(s.Routes, hops, s.Ports, s.Tunnels, new TunnelTable(many)) { Sources = s.Sources };
            Assert.Equal(many.Count >= 5, state.Decap.Snapshot.Length >= TunnelTable.HintSlots); // hints from 5 tunnels on
            var gw = new Packets.Datapath.Pipeline(() => state, lab.Neighbors2);
            SetIpId(gw, 5);
            states.Add(state);
            gws.Add(gw);
        }
        gws[1].DecapFastEnabled = false;
        var slots = states[0].Decap.Snapshot;
        var displaced = Enumerable.Range(0, remote.Length).Where(i => TunnelTable.IndexOf(slots, remote[i], Gw2Wan, Ipv4Header.ProtocolGre, true, SpokeKey(i))
            != TunnelTable.HomeSlot(slots, remote[i], Gw2Wan, Ipv4Header.ProtocolGre, SpokeKey(i))).ToList();
        if (spokes >= 3_000) Assert.True(displaced.Count >= 20, $"only {displaced.Count} spokes sit off their home slot");
        int drawn = Math.Min(400, spokes);

        var rng = new Random(11);
        var sequence = new uint[remote.Length];
        int spoke = 0;
        for (int b = 0; b < 12; b++)
        {
            var frames = new List<(ushort, byte[])>();
            for (int f = 0; f < 64; f++)
            {
                if (rng.Next(5) != 0) spoke = rng.Next(4) == 0 && displaced.Count > 0 ? displaced[rng.Next(displaced.Count)] : rng.Next(drawn); // else a run of the last spoke
                int kind = rng.Next(100);
                bool own = kind >= 96; // the lab's tunnel (key 42) from gw1
                uint src = own ? Gw1Wan : remote[spoke];
                uint key = own ? 42u : SpokeKey(spoke);
                bool wantsSequence = !own && spoke % 10 == 3, wantsChecksum = !own && spoke % 15 == 4;
                bool k = true, c = wantsChecksum, s = wantsSequence;
                switch (kind)
                {
                    case < 70: break; // as the tunnel wants it
                    case < 78: s = true; break; // a sequence number the tunnel may not require: metered
                    case < 83: c = true; break; // a checksum it may not require
                    case < 88: key ^= 0x100; break; // wrong key: 3/3 from the general path
                    case < 92: k = false; break; // no key
                    case < 96: c = s = false; break; // without the flags it requires
                }
                uint seq = s ? ++sequence[own ? 0 : spoke] : 0;
                byte[] gre = Generator.Gre(c, k, s, key, seq, GreHeader.ProtocolIPv4, 0, false, Udp(Server1, Server2, 64));
                frames.Add((Eth2, Eth(Gw2Eth2Mac, Gw1Eth2Mac, Outer(Ipv4Header.ProtocolGre, src, Gw2Wan, 0, 0, gre))));
            }
            fastLab.Now = slowLab.Now = 1_000 + b * 3;
            var (oFast, rxFast) = fastLab.Run(gws[0], frames.ToArray());
            var (oSlow, rxSlow) = slowLab.Run(gws[1], frames.ToArray());
            Assert.Equal(rxSlow.Select(Describe), rxFast.Select(Describe));
            Assert.Equal(oSlow.Select(Describe), oFast.Select(Describe));
        }
        Assert.Equal(Counters(gws[1]), Counters(gws[0]));
        for (int t = 0; t < states[0].Decap.Tunnels.Count; t++)
        {
            Tunnel slow = states[1].Decap.Tunnels[t], fast = states[0].Decap.Tunnels[t];
            Assert.Equal((slow.DecapPackets, slow.DecapBytes), (fast.DecapPackets, fast.DecapBytes));
            Assert.Equal((slow.SequenceMeter.Received, slow.SequenceMeter.InOrder, slow.SequenceMeter.Lost),
                (fast.SequenceMeter.Received, fast.SequenceMeter.InOrder, fast.SequenceMeter.Lost));
        }
        // The batches exercised what they were built for: the hinted decap run, and the drops it leaves to the general path.
        Assert.True(gws[0].DecapFastPackets > 300, $"fast path took {gws[0].DecapFastPackets}");
        var drops = gws[0].Counters.Drops;
        if (rp != RpFilterMode.Off) Assert.True(drops[(int)DropReason.RpFilter] > 0, "no outer source check failed");
        Assert.True(drops[(int)DropReason.GreKeyMismatch] > 0, "no key mismatch");
    }

    private static uint SpokeKey(int spoke) => (uint)spoke * 7 + 1;
}
