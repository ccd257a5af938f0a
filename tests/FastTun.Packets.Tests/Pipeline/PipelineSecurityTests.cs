using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;
using static FastTun.Packets.Tests.Pipeline.SeedLab;

namespace FastTun.Packets.Tests.Pipeline;

public class PipelineSecurityTests
{
    private static byte[] Encapsulated(uint outerSrc, uint outerDst, byte[] inner, byte proto = Ipv4Header.ProtocolIpip, byte[]? gre = null)
    {
        gre ??= [];
        var p = new byte[20 + gre.Length + inner.Length];
        Ipv4Header.Write(p, 0, (ushort)p.Length, 7, true, 64, proto, outerSrc, outerDst);
        gre.CopyTo(p, 20);
        inner.CopyTo(p, 20 + gre.Length);
        return p;
    }

    [Fact]
    public void Process_TunnelPacketFromWrongSource_DroppedCountedPortUnreachable()
    {
        using var lab = new SeedLab();
        lab.Neighbors2.AddStatic(Eth2, 0xAC0C0163, 0x02aabbccddee, 0);
        var stranger = Encapsulated(0xAC0C0163, Gw2Wan, Ping(0x0A0A0A0A, Server2));
        var (o, rx) = lab.Run(lab.Gw2, (Eth2, Eth(Gw2Eth2Mac, 0x02aabbccddee, stranger)));
        Assert.Equal(DropReason.NoTunnel, rx[0].Drop);
        Assert.Equal(1, lab.Gw2.Counters.Drops[(int)DropReason.NoTunnel]);
        var err = Assert.Single(o);
        Assert.Equal(Eth2, err.Port); // the port-unreachable goes back to the stranger, nothing reaches eth1
        Assert.True(Ipv4Header.TryParse(L3(err.Bytes), out var ip));
        Assert.True(IcmpHeader.TryParse(ip.Payload, out var icmp));
        Assert.Equal((3, 3, Gw2Wan), (icmp.Type, icmp.Code, ip.Source));
    }

    [Fact]
    public void Process_GreWithWrongKey_DroppedNeverForwarded()
    {
        using var lab = new SeedLab(TunnelMode.Gre, key: 42);
        byte[] gre = [0x20, 0x00, 0x08, 0x00, 0, 0, 0, 43]; // K bit, key 43
        var (o, rx) = lab.Run(lab.Gw2, (Eth2, Eth(Gw2Eth2Mac, Gw1Eth2Mac, Encapsulated(Gw1Wan, Gw2Wan, Ping(Server1, Server2), Ipv4Header.ProtocolGre, gre))));
        Assert.NotEqual(DropReason.None, rx[0].Drop);
        Assert.DoesNotContain(o, s => s.Port == Eth1);
    }

    [Fact]
    public void Process_GreVersion1_Dropped()
    {
        using var lab = new SeedLab(TunnelMode.Gre);
        byte[] gre = [0x00, 0x01, 0x08, 0x00];
        var (o, rx) = lab.Run(lab.Gw2, (Eth2, Eth(Gw2Eth2Mac, Gw1Eth2Mac, Encapsulated(Gw1Wan, Gw2Wan, Ping(Server1, Server2), Ipv4Header.ProtocolGre, gre))));
        Assert.Equal(DropReason.GreBadVersion, rx[0].Drop);
        Assert.DoesNotContain(o, s => s.Port == Eth1);
    }

    [Fact]
    public void Process_OuterFragments_ReassembledThenDecapsulated()
    {
        using var lab = new SeedLab();
        var inner = Ping(Server1, Server2, payload: 2000, df: false);
        var outer = Encapsulated(Gw1Wan, Gw2Wan, inner);
        Ipv4Header.TryParse(outer, out var oh);
        oh.DontFragment = false;
        oh.ComputeChecksum();
        using var pool = new FramePool(8);
        var pieces = new PacketBatch(8);
        Assert.Equal(DropReason.None, Ipv4Fragmenter.Fragment(outer, 1500, pool, pieces, default));
        var frames = pieces.Frames.ToArray().Select(f => (Eth2, Eth(Gw2Eth2Mac, Gw1Eth2Mac, f.Data.ToArray()))).Reverse().ToArray();
        var (o, _) = lab.Run(lab.Gw2, frames);
        // The 2028-byte inner packet is not DF: gw2 fragments it again for eth1's MTU of 1500.
        Assert.Equal(2, o.Count);
        Assert.All(o, s => Assert.Equal(Eth1, s.Port));
        Assert.Equal(2028 - 20, o.Sum(s => L3(s.Bytes).Length - 20));
    }

    [Fact]
    public void Process_RandomGarbage_NeverThrowsAndEveryFrameAccounted()
    {
        using var lab = new SeedLab();
        var rng = new Random(1234);
        var seeds = new[]
        {
            Eth(Gw1Eth1Mac, Server1Mac, Ping(Server1, Server2)),
            Eth(Gw1Eth2Mac, Gw2Eth2Mac, Encapsulated(Gw2Wan, Gw1Wan, Ping(Server2, Server1))),
            Eth(Gw1Eth2Mac, Gw2Eth2Mac, Encapsulated(Gw2Wan, Gw1Wan, Ping(Server2, Server1), Ipv4Header.ProtocolGre, [0xB0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2])),
        };
        var seen = new long[(int)DropReason.Count];
        long forwarded = 0;
        for (int round = 0; round < 3000; round++)
        {
            var bytes = (byte[])seeds[round % seeds.Length].Clone();
            int len = rng.Next(0, bytes.Length + 1);
            Array.Resize(ref bytes, len);
            for (int k = rng.Next(0, 4); k > 0 && len > 14; k--) bytes[rng.Next(14, len)] ^= (byte)rng.Next(1, 256);
            var (_, rx) = lab.Run(lab.Gw1, ((ushort)rng.Next(0, 2), bytes));
            var r = Assert.Single(rx);
            if (r.Drop != DropReason.None) seen[(int)r.Drop]++;
            else if (r.Port != PacketBatch.NoPort) forwarded++;
        }
        Assert.Equal(3000, lab.Gw1.Counters.Packets);
        Assert.Equal(forwarded, lab.Gw1.Counters.Forwarded);
        // Every rx drop was counted under its reason (generated frames may add to a reason, never remove).
        for (int i = 1; i < seen.Length; i++) Assert.True(lab.Gw1.Counters.Drops[i] >= seen[i], ((DropReason)i).ToString());
        Assert.True(seen.Sum() > 1000); // the mutations really do produce rejects
    }
}
