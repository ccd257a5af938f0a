using FastTun.Packets.Checksum;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Tests;

/// <summary>
/// Encap → decap for every option combination against a slow oracle of DESIGN.md §3 (Linux 6.1 ip_tunnel_xmit):
/// outer TTL, TOS/ECN, DF, ID and GRE fields, checksums, and the inner packet coming back unchanged.
/// </summary>
public sealed class TunnelRoundTripTests : IDisposable
{
    private static readonly uint Gw1 = Ipv4Address.Parse("172.12.1.10");
    private static readonly uint Gw2 = Ipv4Address.Parse("172.12.1.11");
    private readonly TunnelTestFrames _frames = new();

    public void Dispose() => _frames.Dispose();

    /// <summary>Random inner IPv4 packet with the given TOS, TTL and DF.</summary>
    internal static byte[] Inner(Random rng, byte tos, byte ttl, bool df, int payload)
    {
        var p = new byte[20 + payload];
        rng.NextBytes(p.AsSpan(20));
        Ipv4Header.Write(p, tos, (ushort)p.Length, (ushort)rng.Next(0x10000), df, ttl, Ipv4Header.ProtocolUdp,
            Ipv4Address.Parse("10.1.5.10"), Ipv4Address.Parse("10.1.8.10"));
        return p;
    }

    public static IEnumerable<TunnelSettings> AllCombinations(uint local, uint remote)
    {
        TunnelTos[] toses = [default, TunnelTos.InheritFromInner, TunnelTos.Fixed(0x28), TunnelTos.Fixed(0xb8)];
        foreach (TunnelTos tos in toses)
        foreach (byte ttl in new byte[] { 0, 255, 64 })
        foreach (bool pmtu in new[] { true, false })
        {
            if (!pmtu && ttl != 0) continue;
            yield return new TunnelSettings("ipip", TunnelMode.Ipip, local, remote, ttl, tos, pmtu);
            for (int options = 0; options < 8; options++)
            {
                yield return new TunnelSettings("gre", TunnelMode.Gre, local, remote, ttl, tos, pmtu,
                    key: (options & 1) != 0 ? 0xDEADBEEF : null,
                    checksum: (options & 2) != 0,
                    sequence: (options & 4) != 0);
            }
        }
    }

    /// <summary>The receiving side's mirror of <paramref name="s"/>.</summary>
    internal static TunnelSettings Peer(TunnelSettings s) =>
        new(s.Name + "-peer", s.Mode, s.Remote, s.Local, s.Ttl, s.Tos, s.PmtuDiscovery,
            inputKey: s.OutputKey, outputKey: s.InputKey,
            inputChecksum: s.OutputChecksum, outputChecksum: s.InputChecksum,
            inputSequence: s.OutputSequence, outputSequence: s.InputSequence);

    [Fact]
    public void EncapThenDecap_EveryOptionCombination_FollowsLinuxRulesAndRestoresInner()
    {
        var rng = new Random(20261122);
        int combinations = 0;
        foreach (TunnelSettings settings in AllCombinations(Gw1, Gw2))
        {
            combinations++;
            var tx = new Tunnel(settings);
            var rx = new Tunnel(Peer(settings));
            var table = new TunnelTable();
            table.Add(rx);
            int previousId = -1;
            for (int n = 0; n < 40; n++)
            {
                byte innerTos = (byte)rng.Next(256);
                byte innerTtl = (byte)rng.Next(1, 256);
                bool innerDf = rng.Next(2) == 1;
                byte[] inner = Inner(rng, innerTos, innerTtl, innerDf, rng.Next(0, 1400));
                Frame f = _frames.Load(inner);
                Assert.Equal(DropReason.None, TunnelEncap.Encapsulate(tx, ref f));
                Assert.Equal(128 - settings.Overhead, f.Offset);
                Assert.Equal(inner.Length + settings.Overhead, f.Length);

                Span<byte> packet = f.Data;
                Assert.True(Ipv4Header.TryParse(packet, out Ipv4Header outer));
                Assert.True(InternetChecksum.Verify(outer.Bytes));
                Assert.True(outer.IsChecksumValid());
                Assert.Equal(20, outer.HeaderLength);
                Assert.Equal(f.Length, outer.TotalLength);
                Assert.Equal(settings.Local, outer.Source);
                Assert.Equal(settings.Remote, outer.Destination);
                Assert.Equal(settings.Protocol, outer.Protocol);
                // TTL: fixed, or the inner TTL as it is now.
                Assert.Equal(settings.Ttl != 0 ? settings.Ttl : innerTtl, outer.Ttl);
                // TOS: DSCP fixed or inherited; ECN copied, CE → ECT(0).
                int dscp = settings.Tos.Inherit ? innerTos & 0xFC : settings.Tos.Value & 0xFC;
                int ecn = (innerTos & 3) == 3 ? 2 : innerTos & 3;
                Assert.Equal(dscp | ecn, outer.Tos);
                // DF: always with pmtudisc, else the inner DF. Never a fragment.
                Assert.Equal(settings.PmtuDiscovery || innerDf, outer.DontFragment);
                Assert.False(outer.IsFragment);
                // ID: non-zero and changing.
                Assert.NotEqual(0, outer.Identification);
                Assert.NotEqual(previousId, outer.Identification);
                previousId = outer.Identification;

                if (settings.Mode == TunnelMode.Gre)
                {
                    Assert.True(GreHeader.TryParse(outer.Payload, out GreHeader gre));
                    Assert.Equal(settings.OutputChecksum, gre.HasChecksum);
                    Assert.Equal(settings.OutputKey.HasValue, gre.HasKey);
                    Assert.Equal(settings.OutputSequence, gre.HasSequence);
                    Assert.Equal(GreHeader.ProtocolIPv4, gre.ProtocolType);
                    Assert.Equal(settings.OutputKey ?? 0, gre.Key);
                    Assert.Equal(settings.OutputSequence ? (uint)n : 0u, gre.SequenceNumber);
                    if (gre.HasChecksum) Assert.True(InternetChecksum.Verify(outer.Payload));
                    Assert.Equal(inner, gre.Payload.ToArray());
                }
                else
                {
                    Assert.Equal(inner, outer.Payload.ToArray());
                }

                Assert.Equal(DropReason.None, TunnelDecap.Decapsulate(table, ref f, out Tunnel? got));
                Assert.Same(rx, got);
                Assert.Equal(128, f.Offset);
                Assert.Equal(inner, f.Data.ToArray());
                _frames.Return(f);
            }
            Assert.Equal(40, tx.EncapPackets);
            Assert.Equal(40, rx.DecapPackets);
            Assert.Equal(tx.EncapBytes, rx.DecapBytes);
        }
        Assert.Equal(4 * (3 + 1) * 9, combinations);
    }

    [Fact]
    public void Encapsulate_InheritTtlForwardedPacket_OuterTtl63()
    {
        var tunnel = new Tunnel(new TunnelSettings("tun0", TunnelMode.Ipip, Gw1, Gw2));
        byte[] inner = Inner(new Random(1), 0, 64, true, 64);
        Frame f = _frames.Load(inner);
        Assert.True(Ipv4Header.TryParse(f.Data, out Ipv4Header forwarded));
        forwarded.Ttl--; // the forwarding stage decrements before encapsulation
        Assert.Equal(DropReason.None, TunnelEncap.Encapsulate(tunnel, ref f));
        Assert.True(Ipv4Header.TryParse(f.Data, out Ipv4Header outer));
        Assert.Equal(63, outer.Ttl);
    }

    [Theory]
    [InlineData(0xbb, false, 0, 0x02)]    // tos 0: only ECN; inner CE becomes ECT(0)
    [InlineData(0xb8, false, 0, 0x00)]
    [InlineData(0xb9, false, 0, 0x01)]
    [InlineData(0xba, false, 0, 0x02)]
    [InlineData(0xbb, true, 0, 0xba)]     // tos inherit: DSCP copied, CE → ECT(0)
    [InlineData(0xb9, true, 0, 0xb9)]
    [InlineData(0x02, false, 0x28, 0x2a)] // fixed DSCP still carries ECN (RFC 6040)
    [InlineData(0x00, false, 0x2b, 0x28)] // fixed value's ECN bits are not used
    public void Encapsulate_Tos_FollowsRfc6040AsLinux(byte innerTos, bool inherit, byte fixedTos, byte expectedOuter)
    {
        TunnelTos tos = inherit ? TunnelTos.InheritFromInner : TunnelTos.Fixed(fixedTos);
        var tunnel = new Tunnel(new TunnelSettings("tun0", TunnelMode.Gre, Gw1, Gw2, tos: tos));
        Frame f = _frames.Load(Inner(new Random(2), innerTos, 64, false, 10));
        Assert.Equal(DropReason.None, TunnelEncap.Encapsulate(tunnel, ref f));
        Assert.True(Ipv4Header.TryParse(f.Data, out Ipv4Header outer));
        Assert.Equal(expectedOuter, outer.Tos);
    }

    [Theory]
    [InlineData(true, false, true)]
    [InlineData(true, true, true)]
    [InlineData(false, false, false)]
    [InlineData(false, true, true)]
    public void Encapsulate_Df_SetWithPmtudiscElseCopied(bool pmtu, bool innerDf, bool expectedDf)
    {
        var tunnel = new Tunnel(new TunnelSettings("tun0", TunnelMode.Ipip, Gw1, Gw2, pmtuDiscovery: pmtu));
        Frame f = _frames.Load(Inner(new Random(3), 0, 64, innerDf, 10));
        Assert.Equal(DropReason.None, TunnelEncap.Encapsulate(tunnel, ref f));
        Assert.True(Ipv4Header.TryParse(f.Data, out Ipv4Header outer));
        Assert.Equal(expectedDf, outer.DontFragment);
    }

    [Fact]
    public void Encapsulate_IdWrapsPastZero_NeverZero()
    {
        var tunnel = new Tunnel(new TunnelSettings("tun0", TunnelMode.Ipip, Gw1, Gw2), firstId: 0xFFFF);
        byte[] inner = Inner(new Random(4), 0, 64, true, 0);
        var ids = new List<int>();
        for (int i = 0; i < 3; i++)
        {
            Frame f = _frames.Load(inner);
            Assert.Equal(DropReason.None, TunnelEncap.Encapsulate(tunnel, ref f));
            Assert.True(Ipv4Header.TryParse(f.Data, out Ipv4Header outer));
            Assert.True(outer.IsChecksumValid());
            ids.Add(outer.Identification);
            _frames.Return(f);
        }
        Assert.Equal([0xFFFF, 1, 2], ids);
    }

    [Fact]
    public void Encapsulate_GreSequence_StartsAtZeroAndIncrements()
    {
        var tunnel = new Tunnel(new TunnelSettings("tun0", TunnelMode.Gre, Gw1, Gw2, sequence: true));
        byte[] inner = Inner(new Random(5), 0, 64, true, 30);
        for (uint expected = 0; expected < 5; expected++)
        {
            Frame f = _frames.Load(inner);
            Assert.Equal(DropReason.None, TunnelEncap.Encapsulate(tunnel, ref f));
            Assert.True(Ipv4Header.TryParse(f.Data, out Ipv4Header outer));
            Assert.True(GreHeader.TryParse(outer.Payload, out GreHeader gre));
            Assert.Equal(expected, gre.SequenceNumber);
            _frames.Return(f);
        }
    }

    [Fact]
    public void EncapsulateBatch_MixedFrames_EncapsulatesLiveOnesAndMarksFailures()
    {
        var tunnel = new Tunnel(new TunnelSettings("tun0", TunnelMode.Gre, Gw1, Gw2, key: 7, checksum: true, sequence: true));
        var batch = new PacketBatch(8);
        byte[] inner = Inner(new Random(6), 0, 64, true, 64);
        for (int i = 0; i < 6; i++)
        {
            ref Frame f = ref batch.Add();
            Frame loaded = _frames.Load(inner, headroom: i == 2 ? 8 : 128);
            f.Buffer = loaded.Buffer; f.Handle = loaded.Handle; f.Offset = loaded.Offset; f.Length = loaded.Length; f.Capacity = loaded.Capacity;
            if (i == 4) f.Drop = DropReason.NoRoute;
        }
        Assert.Equal(4, TunnelEncap.EncapsulateBatch(tunnel, batch));
        Assert.Equal(DropReason.NoHeadroom, batch[2].Drop);
        Assert.Equal(DropReason.NoRoute, batch[4].Drop);
        uint expectedSeq = 0;
        for (int i = 0; i < 6; i++)
        {
            if (i is 2 or 4) { Assert.Equal(inner.Length, batch[i].Length); continue; }
            Assert.True(Ipv4Header.TryParse(batch[i].Data, out Ipv4Header outer));
            Assert.True(GreHeader.TryParse(outer.Payload, out GreHeader gre));
            Assert.Equal(expectedSeq++, gre.SequenceNumber);
            Assert.True(gre.IsChecksumValid());
        }
    }
}
