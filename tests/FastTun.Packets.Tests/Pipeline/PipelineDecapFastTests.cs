using System.Buffers.Binary;
using System.Reflection;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;
using static FastTun.Packets.Tests.Pipeline.SeedLab;

namespace FastTun.Packets.Tests.Pipeline;

/// <summary>
/// Pass 3's decap fast path (<c>Pipeline.DecapFast.cs</c>) against its oracle, the general decap path
/// (<c>DecapFastEnabled = false</c>): two identical gateways (gw2 of the seed) receive the same random batches of
/// tunnel frames, the configured kind and every kind the fast path must leave to the general path (keys, checksums,
/// sequences old and missing, fragments, CE, options, keepalives both ways, strangers, bad inner headers, martian
/// inner sources, TTL 1, local delivery), and must give the same frames byte for byte, the same drop per frame,
/// the same ICMP answers, and the same worker, tunnel, sequence-meter and keepalive counters.
/// </summary>
public sealed partial class PipelineDecapFastTests
{
    private const uint Stranger = 0xAC0C0163;
    private const ulong StrangerMac = 0x02aabbccddee;

    public static TheoryData<TunnelMode, uint?, bool, bool, RpFilterMode, bool> Tunnels() => new()
    {
        { TunnelMode.Ipip, null, false, false, RpFilterMode.Loose, false },
        { TunnelMode.Ipip, null, false, false, RpFilterMode.Strict, false },
        { TunnelMode.Ipip, null, false, false, RpFilterMode.Loose, true },
        { TunnelMode.Ipip, null, false, false, RpFilterMode.Strict, true },
        { TunnelMode.Gre, 42u, false, false, RpFilterMode.Strict, true },
        { TunnelMode.Gre, null, false, false, RpFilterMode.Loose, false },
        { TunnelMode.Gre, 42u, false, false, RpFilterMode.Loose, false },
        { TunnelMode.Gre, 42u, true, false, RpFilterMode.Loose, false },
        { TunnelMode.Gre, 42u, true, true, RpFilterMode.Loose, false },
        { TunnelMode.Gre, 42u, true, true, RpFilterMode.Loose, true },
        { TunnelMode.Gre, null, false, true, RpFilterMode.Strict, false },
        { TunnelMode.Gre, null, true, false, RpFilterMode.Off, false },
    };

    [Theory]
    [MemberData(nameof(Tunnels))]
    public void Process_MixedTunnelBatches_FastPathMatchesGeneralPath(TunnelMode mode, uint? key, bool checksum, bool sequence, RpFilterMode rp, bool hub)
    {
        using var fastLab = new SeedLab(mode, key, checksum, sequence, rpFilter: rp);
        using var slowLab = new SeedLab(mode, key, checksum, sequence, rpFilter: rp);
        // hub: 3,000 more tunnels (a table of 4,096 slots or more) turn pass 1's decap prefetch hints on.
        var fast = Gateway2(fastLab, hub);
        var slow = Gateway2(slowLab, hub);
        slow.DecapFastEnabled = false;
        foreach (var lab in new[] { fastLab, slowLab })
        {
            lab.Neighbors2.AddStatic(Eth2, Stranger, StrangerMac, 0);
            lab.State2.Tunnels[0].Tunnel.SetNextId(100); // replies into the tunnel: the same outer IP IDs
        }
        SetIpId(fast, 777);
        SetIpId(slow, 777);

        var gen = new Generator(mode, key, checksum, sequence, new Random(1234 + (int)mode * 7 + (key is null ? 0 : 1) * 3 + (checksum ? 11 : 0) + (sequence ? 17 : 0)));
        for (int round = 0; round < 40; round++)
        {
            int count = gen.Rng.Next(1, 65);
            var frames = new (ushort, byte[])[count];
            for (int i = 0; i < count; i++) frames[i] = (Eth2, gen.Next());
            fastLab.Now = slowLab.Now = 1_000 + round * 3;
            var (oFast, rxFast) = fastLab.Run(fast, frames);
            var (oSlow, rxSlow) = slowLab.Run(slow, frames);
            Assert.Equal(rxSlow.Select(Describe), rxFast.Select(Describe));
            Assert.Equal(oSlow.Select(Describe), oFast.Select(Describe));
        }

        Assert.Equal(Counters(slow), Counters(fast));
        Tunnel tFast = fastLab.State2.Tunnels[0].Tunnel, tSlow = slowLab.State2.Tunnels[0].Tunnel;
        Assert.Equal((tSlow.DecapPackets, tSlow.DecapBytes, tSlow.EncapPackets), (tFast.DecapPackets, tFast.DecapBytes, tFast.EncapPackets));
        var mSlow = tSlow.SequenceMeter;
        var mFast = tFast.SequenceMeter;
        Assert.Equal((mSlow.Received, mSlow.InOrder, mSlow.Lost, mSlow.Reordered, mSlow.Duplicates, mSlow.OutOfWindow, mSlow.Resyncs, mSlow.NextExpected),
            (mFast.Received, mFast.InOrder, mFast.Lost, mFast.Reordered, mFast.Duplicates, mFast.OutOfWindow, mFast.Resyncs, mFast.NextExpected));
        Assert.Equal(tSlow.Keepalive.Reflected, tFast.Keepalive.Reflected);
        Assert.True(tSlow.DecapPackets > 200, $"the generator decapsulated only {tSlow.DecapPackets} packets (meter {mSlow.Received} {mSlow.InOrder} {mSlow.OutOfWindow} {mSlow.Resyncs} {mSlow.Duplicates})");
        // The comparison exercised the fast path: it took most tunnel packets, and the oracle none.
        Assert.Equal(0, slow.DecapFastPackets);
        Assert.True(fast.DecapFastPackets > tFast.DecapPackets / 2, $"fast path took {fast.DecapFastPackets} of {tFast.DecapPackets}");
        Assert.True(fast.DecapFastPackets < tFast.DecapPackets + mFast.OutOfWindow + mFast.Duplicates + 1);
    }

    [Fact]
    public void Process_HubSizedTableManySpokes_MatchesGeneralPath()
    {
        // A table of ≥ 4,096 slots turns on pass 1's hint, and pass 3 probes from the home slot pass 1 kept (hub7c):
        // 3,000 IPIP spokes with random remotes and the lab's tunnel, frames in random order from the spokes that sit off
        // their home slot, 200 others and the lab's: frame by frame, counter by counter as the general path.
        var spread = new Random(5); // random remotes: some spokes sit off their home slot
        var remotes = new HashSet<uint>(Enumerable.Range(0, 3_400).Select(_ => 0x0B000000u | (uint)spread.Next(1, 1 << 24))).Take(3_000).ToList();
        using var fastLab = new SeedLab(rpFilter: RpFilterMode.Off);
        using var slowLab = new SeedLab(rpFilter: RpFilterMode.Off);
        var states = new List<ForwardingState>();
        var gws = new List<Packets.Datapath.Pipeline>();
        foreach (var lab in new[] { fastLab, slowLab })
        {
            var s = lab.State2;
            var many = new List<Tunnel>(s.Decap.Tunnels);
            for (int i = 0; i < 3_000; i++)
                many.Add(new Tunnel(new TunnelSettings($"tun{100 + i}", TunnelMode.Ipip, Gw2Wan, remotes[i])));
            var state = new ForwardingState(s.Routes, s.NextHops, s.Ports, s.Tunnels, new TunnelTable(many)) { Sources = s.Sources };
            Assert.True(state.Decap.Snapshot.Length >= TunnelTable.PrefetchSlots);
            var gw = new Packets.Datapath.Pipeline(() => state, lab.Neighbors2);
            SetIpId(gw, 5);
            states.Add(state);
            gws.Add(gw);
        }
        gws[1].DecapFastEnabled = false;
        var rng = new Random(3);
        var slots = states[0].Decap.Snapshot;
        var displaced = remotes.Where(r =>
            TunnelTable.IndexOf(slots, r, Gw2Wan, Ipv4Header.ProtocolIpip, false, 0) != TunnelTable.HomeSlot(slots, r, Gw2Wan, Ipv4Header.ProtocolIpip, 0)).ToList();
        Assert.True(displaced.Count >= 20, $"only {displaced.Count} spokes sit off their home slot");
        var rxFast = new List<Sent>();
        for (int b = 0; b < 5; b++)
        {
            var frames = new List<(ushort, byte[])>();
            for (int i = 0; i < 60; i++)
            {
                int pick = rng.Next(9); // the lab's own tunnel from gw1, a spoke off its home slot, any of 200 spokes
                uint remote = pick == 0 ? Gw1Wan : pick < 4 ? displaced[rng.Next(displaced.Count)] : remotes[rng.Next(200)];
                byte[] outer = Outer(Ipv4Header.ProtocolIpip, remote, Gw2Wan, 0, 0, Udp(Server1, Server2, 64));
                frames.Add((Eth2, Eth(Gw2Eth2Mac, Gw1Eth2Mac, outer)));
            }
            var (oFast, rx) = fastLab.Run(gws[0], frames.ToArray());
            var (oSlow, rxSlow) = slowLab.Run(gws[1], frames.ToArray());
            Assert.Equal(rxSlow.Select(Describe), rx.Select(Describe));
            Assert.Equal(oSlow.Select(Describe), oFast.Select(Describe));
            rxFast.AddRange(rx);
        }
        Assert.Equal(Counters(gws[1]), Counters(gws[0]));
        for (int t = 0; t < states[0].Decap.Tunnels.Count; t++)
            Assert.Equal((states[1].Decap.Tunnels[t].DecapPackets, states[1].Decap.Tunnels[t].DecapBytes),
                (states[0].Decap.Tunnels[t].DecapPackets, states[0].Decap.Tunnels[t].DecapBytes));
        Assert.Equal(300, rxFast.Count(r => r.Drop == DropReason.None && r.Port == Eth1));
        Assert.True(gws[0].DecapFastPackets > 250, $"fast path took {gws[0].DecapFastPackets}");
    }

    [Fact]
    public void Process_IpipRunAcrossTwoTunnels_EachPacketCountedOnItsOwnTunnel()
    {
        // Runs of two tunnels interleaved (the inner-queue stores each run's tunnel once): every packet's source
        // check and counters name the tunnel it came out of, as in the general path.
        using var fastLab = new SeedLab(rpFilter: RpFilterMode.Strict);
        using var slowLab = new SeedLab(rpFilter: RpFilterMode.Strict);
        var states = new List<ForwardingState>();
        var gws = new List<Packets.Datapath.Pipeline>();
        foreach (var lab in new[] { fastLab, slowLab })
        {
            var s = lab.State2;
            var second = new Tunnel(new TunnelSettings("tun1", TunnelMode.Ipip, Gw2Wan, Stranger));
            var state = new ForwardingState(s.Routes, s.NextHops, s.Ports, s.Tunnels, new TunnelTable([s.Tunnels[0].Tunnel, second]))
                { Sources = s.Sources };
            lab.Neighbors2.AddStatic(Eth2, Stranger, StrangerMac, 0);
            var gw = new Packets.Datapath.Pipeline(() => state, lab.Neighbors2);
            SetIpId(gw, 5);
            states.Add(state);
            gws.Add(gw);
        }
        gws[1].DecapFastEnabled = false;
        var frames = new List<(ushort, byte[])>();
        for (int i = 0; i < 60; i++)
        {
            bool fromSecond = (i / 3) % 2 == 1;
            uint remote = fromSecond ? Stranger : Gw1Wan;
            byte[] outer = Outer(Ipv4Header.ProtocolIpip, remote, Gw2Wan, 0, 0, Udp(Server1, Server2, 64));
            frames.Add((Eth2, Eth(Gw2Eth2Mac, fromSecond ? StrangerMac : Gw1Eth2Mac, outer)));
        }
        var (oFast, rxFast) = fastLab.Run(gws[0], frames.ToArray());
        var (oSlow, rxSlow) = slowLab.Run(gws[1], frames.ToArray());
        Assert.Equal(rxSlow.Select(Describe), rxFast.Select(Describe));
        Assert.Equal(oSlow.Select(Describe), oFast.Select(Describe));
        Assert.Equal(Counters(gws[1]), Counters(gws[0]));
        // Strict rp-filter: the route back to server1 leads into tun0, so packets out of tun1 are dropped.
        Assert.Equal(30, rxFast.Count(r => r.Drop == DropReason.RpFilter));
        Assert.Equal(30, rxFast.Count(r => r.Drop == DropReason.None && r.Port == Eth1));
        for (int t = 0; t < 2; t++)
            Assert.Equal(states[1].Decap.Tunnels[t].DecapPackets, states[0].Decap.Tunnels[t].DecapPackets);
        Assert.Equal(60, gws[0].DecapFastPackets);
    }

    /// <summary>gw2 of <paramref name="lab"/> with one more route, <see cref="FarNet"/>/16 via server2 (a gateway next hop,
    /// which pass 4 keeps in locals), and with <paramref name="hub"/> 3,000 more tunnels.</summary>
    private static Packets.Datapath.Pipeline Gateway2(SeedLab lab, bool hub)
    {
        var s = lab.State2;
        var hops = s.NextHops.Append(NextHop.Via(Eth1, Server2)).ToArray();
        s.Routes.AddOrReplace(FarNet, 16, (uint)(hops.Length - 1));
        var many = new List<Tunnel>(s.Decap.Tunnels);
        if (hub)
            for (int i = 0; i < 3_000; i++)
                many.Add(new Tunnel(new TunnelSettings($"tun{100 + i}", TunnelMode.Ipip, Gw2Wan, 0x0B000000u + (uint)i)));
        var state = new ForwardingState(s.Routes, hops, s.Ports, s.Tunnels, hub ? new TunnelTable(many) : s.Decap) { Sources = s.Sources };
        return new Packets.Datapath.Pipeline(() => state, lab.Neighbors2);
    }

    private const uint FarNet = 0x0A070000;

    private static string Describe(Sent s) => $"{s.Port} {s.Drop} {Convert.ToHexString(s.Bytes)}";

    private static void SetIpId(Packets.Datapath.Pipeline gw, int id) =>
        typeof(Packets.Datapath.Pipeline).GetField("_ipId", BindingFlags.NonPublic | BindingFlags.Instance)!.SetValue(gw, id);

    private static string Counters(Packets.Datapath.Pipeline gw)
    {
        var c = gw.Counters;
        return $"{string.Join(',', c.Drops)} p{c.Packets} f{c.Forwarded} c{c.Consumed} d{c.RxDropped} l{c.LocalDelivered} " +
               $"cs{c.ChecksumsCompleted} i{c.IcmpSent} a{c.ArpSent} h{c.HandedOff}";
    }

    /// <summary>An IPv4 packet around <paramref name="payload"/>: 20-byte header (or 24 with a NOP option word).</summary>
    private static byte[] Outer(byte protocol, uint src, uint dst, byte tos, ushort fragmentField, byte[] payload, bool options = false)
    {
        int header = options ? 24 : 20;
        var p = new byte[header + payload.Length];
        Ipv4Header.Write(p, tos, (ushort)p.Length, 77, false, 64, protocol, src, dst);
        if (options)
        {
            p[0] = 0x46;
            p[20] = p[21] = p[22] = p[23] = 1; // NOPs
        }
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(Ipv4Header.FlagsFragmentOffset), fragmentField);
        payload.CopyTo(p, header);
        Ipv4Header.TryParse(p, out var ip);
        ip.ComputeChecksum();
        return p;
    }

    /// <summary>Random tunnel frames from gw1 (and strangers) to gw2: mostly the configured kind, else one of the
    /// kinds the fast path leaves to the general path.</summary>
    private sealed class Generator(TunnelMode mode, uint? key, bool checksum, bool sequence, Random rng)
    {
        public Random Rng { get; } = rng;
        private uint _sequence = 1;

        public byte[] Next()
        {
            int kind = Rng.Next(100);
            bool gre = mode == TunnelMode.Gre;
            bool c = checksum, s = sequence, k = key.HasValue;
            uint keyValue = key ?? 0;
            ushort greType = GreHeader.ProtocolIPv4;
            ushort extraFlags = 0;
            bool badGreChecksum = false;
            uint outerSrc = Gw1Wan;
            ulong srcMac = Gw1Eth2Mac;
            byte outerTos = (byte)(Rng.Next(64) << 2);
            ushort fragment = 0x4000; // DF
            bool outerOptions = false;
            byte[] inner = RandomInner();
            uint seq = _sequence;
            switch (kind)
            {
                case < 55: break; // the configured kind
                case < 58: gre = !gre; break; // the other tunnel protocol: no tunnel
                case < 60: k = !k; keyValue = 43; break; // key missing or unexpected
                case < 62: keyValue ^= 1; k = true; break; // wrong key
                case < 64: c = !c; break; // checksum flag not as configured
                case < 66: badGreChecksum = true; c = true; break;
                case < 68: s = !s; break; // sequence missing or unexpected
                case < 71: seq = _sequence - (uint)Rng.Next(1, 40); break; // old or duplicate
                case < 72: seq = _sequence + (uint)Rng.Next(2, 20); break; // a gap
                case < 73: seq = _sequence + (uint)Rng.Next(1000, 1 << 30); break; // a jump (spoofed, or the peer restarted)
                case < 74: greType = 0; break; // a keepalive reply's type (and not one)
                case < 75: extraFlags = (ushort)(1 << Rng.Next(0, 12)); break; // version or reserved bits
                case < 76: outerSrc = Stranger; srcMac = StrangerMac; break;
                case < 78: outerTos |= 3; break; // CE
                case < 79: outerTos |= 3; inner[1] |= 3; inner = Recompute(inner); break; // CE on CE
                case < 80: outerTos |= 3; inner[1] = (byte)((inner[1] & ~3) | 2); inner = Recompute(inner); break; // CE on ECT(0)
                case < 82: fragment = (ushort)(Rng.Next(2) == 0 ? 0x2000 : 0x0010); break;
                case < 84: outerOptions = true; break;
                case < 86: inner = Keepalive(); break;
                case < 88: inner[10] ^= 0x40; break; // inner header checksum wrong
                case < 89: inner = inner.AsSpan(0, Rng.Next(0, 20)).ToArray(); break; // inner too short
                case < 90: inner[0] = 0x60; break; // not IPv4
                case < 91: inner = Options(inner); break;
                case < 93: inner = SeedLab.Udp(0x7F000001, Server2, 64); break; // martian inner source
                case < 95: inner = SeedLab.Udp(Server1, Rng.Next(2) == 0 ? Server2 : FarNet | 1, 1); break; // TTL 1: time exceeded back through the tunnel
                case < 97: inner = Ping(Server1, Gw2Lan); break; // to the gateway itself
                case < 98: inner = SeedLab.Udp(Server1, 0x0B0B0B0B, 64); break; // no route
                default: inner = Pad(inner, Rng.Next(1, 30)); break; // outer longer than the inner packet
            }
            if (kind < 55 || kind is >= 71 and < 72) _sequence = seq + 1; // old packets and jumps leave the stream where it is
            byte[] payload = gre ? Gre(c, k, s, keyValue, seq, greType, extraFlags, badGreChecksum, inner) : inner;
            byte[] outer = Outer(gre ? Ipv4Header.ProtocolGre : Ipv4Header.ProtocolIpip, outerSrc, Gw2Wan, outerTos, fragment, payload, outerOptions);
            byte[] frame = Eth(Gw2Eth2Mac, srcMac, outer);
            if (Rng.Next(10) == 0) Array.Resize(ref frame, frame.Length + Rng.Next(1, 8)); // link padding
            return frame;
        }

        private byte[] RandomInner()
        {
            byte ttl = (byte)Rng.Next(2, 256);
            uint dst = Rng.Next(2) == 0 ? Server2 : FarNet | (uint)Rng.Next(1, Rng.Next(2) == 0 ? 4 : 65536); // connected or via server2
            byte[] p = Rng.Next(3) == 0
                ? Ping(Server1, dst, ttl, payload: Rng.Next(0, 200), df: Rng.Next(2) == 0, tos: (byte)Rng.Next(256), seq: (ushort)Rng.Next(65536))
                : SeedLab.Udp(Server1, dst, ttl, (ushort)Rng.Next(1, 65536));
            return p;
        }

        private static byte[] Recompute(byte[] ip)
        {
            Ipv4Header.TryParse(ip, out var h);
            h.ComputeChecksum();
            return ip;
        }

        private static byte[] Options(byte[] ip)
        {
            var p = new byte[ip.Length + 4];
            ip.AsSpan(0, 20).CopyTo(p);
            p[0] = 0x46;
            p[20] = p[21] = p[22] = p[23] = 1;
            ip.AsSpan(20).CopyTo(p.AsSpan(24));
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
            return Recompute(p);
        }

        private static byte[] Pad(byte[] ip, int extra)
        {
            var p = new byte[ip.Length + extra];
            ip.CopyTo(p, 0);
            return p;
        }

        /// <summary>A peer's keepalive as gw2 receives it inside the tunnel: inner GRE from gw2's address to gw1's.</summary>
        private byte[] Keepalive()
        {
            byte[] reply = Gre(false, false, false, 0, 0, 0, 0, false, []);
            bool ours = Rng.Next(4) != 0;
            return Outer(Ipv4Header.ProtocolGre, ours ? Gw2Wan : Server1, Gw1Wan, 0, 0, reply);
        }

        internal static byte[] Gre(bool c, bool k, bool s, uint key, uint seq, ushort type, ushort extraFlags, bool badChecksum, byte[] inner)
        {
            int length = 4 + (c ? 4 : 0) + (k ? 4 : 0) + (s ? 4 : 0);
            var p = new byte[length + inner.Length];
            ushort flags = (ushort)((c ? GreHeader.FlagChecksum : 0) | (k ? GreHeader.FlagKey : 0) | (s ? GreHeader.FlagSequence : 0) | extraFlags);
            BinaryPrimitives.WriteUInt16BigEndian(p, flags);
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), type);
            int o = 4 + (c ? 4 : 0);
            if (k) { BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(o), key); o += 4; }
            if (s) BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(o), seq);
            inner.CopyTo(p, length);
            if (c)
            {
                ushort sum = Checksum.InternetChecksum.Compute(p);
                BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), (ushort)(badChecksum ? sum ^ 0x0101 : sum));
            }
            return p;
        }
    }
}
