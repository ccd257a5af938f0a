using System.Buffers.Binary;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;
using static FastTun.Packets.Tests.Pipeline.SeedLab;

namespace FastTun.Packets.Tests.Pipeline;

/// <summary>The GRE sequence meter hooked into decapsulation (#15 items 2-3): received GRE packets from gw1 to gw2
/// through gw2's whole pipeline, with and without <c>iseq</c>.</summary>
public class PipelineSequenceTests
{
    private const uint Key = 42;

    /// <summary>A GRE frame from gw1 to gw2 with key 42 and sequence <paramref name="seq"/>, carrying a ping from
    /// server1 to server2.</summary>
    private static byte[] Sequenced(uint seq)
    {
        byte[] inner = Ping(Server1, Server2, seq: (ushort)seq);
        var p = new byte[20 + 12 + inner.Length];
        Ipv4Header.Write(p, 0, (ushort)p.Length, (ushort)(seq | 1), true, 64, Ipv4Header.ProtocolGre, Gw1Wan, Gw2Wan);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(20), GreHeader.FlagKey | GreHeader.FlagSequence);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(22), GreHeader.ProtocolIPv4);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(24), Key);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(28), seq);
        inner.CopyTo(p, 32);
        return Eth(Gw2Eth2Mac, Gw1Eth2Mac, p);
    }

    /// <summary>Runs one packet through gw2; true when it was delivered to server2.</summary>
    private static bool Deliver(SeedLab lab, uint seq, out DropReason drop)
    {
        var (o, rx) = lab.Run(lab.Gw2, (Eth2, Sequenced(seq)));
        drop = rx[0].Drop;
        bool delivered = o.Any(s => s.Port == Eth1);
        Assert.Equal(drop == DropReason.None, delivered);
        return delivered;
    }

    private static GreSequenceMeter Meter(SeedLab lab) => lab.State2.Tunnels[0].Tunnel.SequenceMeter;

    [Fact]
    public void Process_SpoofedJumpOf2Pow31WithIseq_GenuineStreamKeepsFlowing()
    {
        using var lab = new SeedLab(TunnelMode.Gre, key: Key, sequence: true);
        for (uint s = 0; s < 10; s++) Assert.True(Deliver(lab, s, out _));
        // One forged packet with the right outer source and key, 2^31 ahead: Linux would take it and then call
        // every genuine packet old for good.
        Assert.False(Deliver(lab, 10 + (1u << 31), out var drop));
        Assert.Equal(DropReason.GreSequenceOld, drop);
        int lost = 0;
        for (uint s = 10; s < 200; s++) if (!Deliver(lab, s, out _)) lost++;
        Assert.True(lost <= GreSequenceMeter.ConfirmPackets, $"{lost} genuine packets lost");
        var m = Meter(lab);
        Assert.Equal(1, m.OutOfWindow);
        Assert.Equal(0, m.Resyncs);
        Assert.Equal(200u, m.NextExpected);
        Assert.Equal(1, lab.Gw2.Counters.Drops[(int)DropReason.GreSequenceOld]);
    }

    [Fact]
    public void Process_PeerRestartsFromZeroWithIseq_RecoversAfterConfirmPackets()
    {
        using var lab = new SeedLab(TunnelMode.Gre, key: Key, sequence: true);
        for (uint s = 0; s < 1000; s++) Assert.True(Deliver(lab, s, out _));
        // The peer restarts: its numbers begin at 0 again. Linux drops it until it has sent 1000 packets.
        var delivered = new List<bool>();
        for (uint s = 0; s < 50; s++) delivered.Add(Deliver(lab, s, out _));
        int dropped = delivered.TakeWhile(d => !d).Count();
        Assert.Equal(GreSequenceMeter.ConfirmPackets - 1, dropped);
        Assert.All(delivered.Skip(dropped), Assert.True);
        var m = Meter(lab);
        Assert.Equal(1, m.Resyncs);
        Assert.Equal(50u, m.NextExpected);
        Assert.Equal(dropped, lab.Gw2.Counters.Drops[(int)DropReason.GreSequenceOld]);
    }

    [Fact]
    public void Process_ReorderingInsideWindowWithIseq_LateDroppedAsLinuxAndCounted()
    {
        using var lab = new SeedLab(TunnelMode.Gre, key: Key, sequence: true);
        uint[] order = [0, 1, 3, 2, 4, 5, 5, 7, 6, 8];
        var delivered = order.Select(s => Deliver(lab, s, out _)).ToArray();
        Assert.Equal(new[] { true, true, true, false, true, true, false, true, false, true }, delivered);
        var m = Meter(lab);
        Assert.Equal(10, m.Received);
        Assert.Equal(2, m.Reordered);
        Assert.Equal(1, m.Duplicates);
        Assert.Equal(0, m.Lost); // the late packets filled the gaps in
        Assert.Equal(3, lab.Gw2.Counters.Drops[(int)DropReason.GreSequenceOld]);
    }

    [Fact]
    public void Process_SequencedPacketsWithoutIseq_AllDeliveredAndMetered()
    {
        using var lab = new SeedLab(TunnelMode.Gre, key: Key, sequence: false);
        uint[] order = [0, 1, 2, 6, 5, 5, 9];
        Assert.All(order, s => Assert.True(Deliver(lab, s, out _)));
        var m = Meter(lab);
        Assert.Equal(7, m.Received);
        Assert.Equal(1, m.Reordered);
        Assert.Equal(1, m.Duplicates);
        Assert.Equal(4, m.Lost); // 3, 4, 7, 8: skipped by the gaps 2→6 and 6→9; 5 came late and is not lost
        Assert.Equal(4.0 / 11, m.LossRate, 9);
    }

    [Fact]
    public void Process_PacketWithoutSequenceOnIseqTunnel_GreSequenceMissingNotMetered()
    {
        using var lab = new SeedLab(TunnelMode.Gre, key: Key, sequence: true);
        byte[] inner = Ping(Server1, Server2);
        var p = new byte[20 + 8 + inner.Length];
        Ipv4Header.Write(p, 0, (ushort)p.Length, 9, true, 64, Ipv4Header.ProtocolGre, Gw1Wan, Gw2Wan);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(20), GreHeader.FlagKey);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(22), GreHeader.ProtocolIPv4);
        BinaryPrimitives.WriteUInt32BigEndian(p.AsSpan(24), Key);
        inner.CopyTo(p, 28);
        var (_, rx) = lab.Run(lab.Gw2, (Eth2, Eth(Gw2Eth2Mac, Gw1Eth2Mac, p)));
        Assert.Equal(DropReason.GreSequenceMissing, rx[0].Drop);
        Assert.Equal(0, Meter(lab).Received);
    }

    [Fact]
    public void Tunnel_RebuiltWithMeterOfPredecessor_WindowGoesOn()
    {
        var settings = new TunnelSettings("tun0", TunnelMode.Gre, Gw2Wan, Gw1Wan, key: Key, sequence: true);
        var old = new Tunnel(settings);
        for (uint s = 0; s < 100; s++) old.SequenceMeter.Observe(s);
        var changed = new TunnelSettings("tun0", TunnelMode.Gre, Gw2Wan, Gw1Wan, ttl: 64, key: Key, sequence: true);
        var rebuilt = new Tunnel(changed, old.SequenceMeter);
        Assert.Same(old.SequenceMeter, rebuilt.SequenceMeter);
        Assert.Equal(SequenceVerdict.OutOfWindow, rebuilt.SequenceMeter.Observe(5)); // still the old stream's window
        Assert.NotSame(old.SequenceMeter, new Tunnel(changed).SequenceMeter);
    }
}
