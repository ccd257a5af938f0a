using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Tests;

public sealed class GreSequenceMeterTests
{
    private static List<SequenceVerdict> Feed(GreSequenceMeter m, params uint[] numbers) => numbers.Select(m.Observe).ToList();

    [Fact]
    public void Observe_InOrderFromAnyStart_AllInOrder()
    {
        var m = new GreSequenceMeter();
        Assert.All(Feed(m, 1000, 1001, 1002, 1003), v => Assert.Equal(SequenceVerdict.InOrder, v));
        Assert.Equal((4L, 4L, 0L), (m.Received, m.InOrder, m.Lost));
        Assert.Equal(1004u, m.NextExpected);
    }

    [Fact]
    public void Observe_GapThenLatePacket_CountsLossThenReorderFillsIt()
    {
        var m = new GreSequenceMeter();
        var v = Feed(m, 0, 1, 4, 5, 2);
        Assert.Equal([SequenceVerdict.InOrder, SequenceVerdict.InOrder, SequenceVerdict.Gap, SequenceVerdict.InOrder, SequenceVerdict.Reordered], v);
        Assert.Equal(1, m.Lost); // 2 and 3 skipped, 2 came late
        Assert.Equal(1, m.Reordered);
        Assert.Equal(1.0 / 6, m.LossRate, 6);
        Assert.False(GreSequenceMeter.Accepts(v[^1])); // iseq drops late packets, as Linux does
    }

    [Fact]
    public void Observe_SamePacketTwice_Duplicate()
    {
        var m = new GreSequenceMeter();
        var v = Feed(m, 7, 8, 8, 9);
        Assert.Equal(SequenceVerdict.Duplicate, v[2]);
        Assert.Equal(SequenceVerdict.InOrder, v[3]);
        Assert.Equal((1L, 0L), (m.Duplicates, m.Lost));
    }

    /// <summary>One forged packet at last + 2^31 (right source and key) must not cut the tunnel, as it does in Linux.</summary>
    [Fact]
    public void Observe_SpoofedJumpOfHalfTheSpace_IgnoredAndTheStreamContinues()
    {
        var m = new GreSequenceMeter();
        Feed(m, 0, 1, 2, 3);
        Assert.Equal(SequenceVerdict.OutOfWindow, m.Observe(3 + 0x8000_0000u));
        var after = Feed(m, 4, 5, 6, 7);
        Assert.All(after, v => Assert.Equal(SequenceVerdict.InOrder, v));
        Assert.Equal((1L, 0L, 0L), (m.OutOfWindow, m.Resyncs, m.Lost));
    }

    [Fact]
    public void Observe_PeerRestartsFromZero_ResynchronisesOnTheThirdPacket()
    {
        var m = new GreSequenceMeter();
        for (uint i = 0; i < 5000; i++) m.Observe(i);
        var v = Feed(m, 0, 1, 2, 3, 4);
        Assert.Equal([SequenceVerdict.OutOfWindow, SequenceVerdict.OutOfWindow, SequenceVerdict.Resynchronised,
            SequenceVerdict.InOrder, SequenceVerdict.InOrder], v);
        Assert.Equal(1, m.Resyncs);
        Assert.Equal(5u, m.NextExpected);
    }

    [Fact]
    public void Observe_PeerRestartsAfterFewPackets_ResynchronisesThroughDuplicates()
    {
        var m = new GreSequenceMeter();
        Feed(m, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
        var v = Feed(m, 0, 1, 2, 3);
        Assert.Equal([SequenceVerdict.Duplicate, SequenceVerdict.Duplicate, SequenceVerdict.Resynchronised, SequenceVerdict.InOrder], v);
    }

    [Fact]
    public void Observe_RealJumpConfirmedByFollowingPackets_Resynchronises()
    {
        var m = new GreSequenceMeter();
        Feed(m, 0, 1);
        uint far = 1_000_000;
        var v = Feed(m, far, far + 1, far + 2, far + 3);
        Assert.Equal([SequenceVerdict.OutOfWindow, SequenceVerdict.OutOfWindow, SequenceVerdict.Resynchronised, SequenceVerdict.InOrder], v);
    }

    [Fact]
    public void Observe_ScatteredForgeriesNeverConsecutive_NeverResynchronise()
    {
        var m = new GreSequenceMeter();
        var rng = new Random(2890);
        uint next = 0;
        for (int i = 0; i < 10_000; i++)
        {
            Assert.True(GreSequenceMeter.Accepts(m.Observe(next++)));
            if (i % 3 == 0) m.Observe((uint)rng.Next() | 0x4000_0000u); // a forgery far away, at random
        }
        Assert.Equal(0, m.Resyncs);
        Assert.Equal(0, m.Lost);
    }

    [Fact]
    public void Observe_WrapAroundTheSequenceSpace_InOrder()
    {
        var m = new GreSequenceMeter();
        var v = Feed(m, uint.MaxValue - 1, uint.MaxValue, 0, 1);
        Assert.All(v, x => Assert.Equal(SequenceVerdict.InOrder, x));
    }

    /// <summary>The slow oracle: sets of numbers. Random streams with loss, reordering within a few places and
    /// duplicates; the meter's loss, reorder and duplicate counts equal the oracle's.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Observe_RandomLossReorderDuplicates_MatchesSetOracle(int seed)
    {
        var rng = new Random(seed);
        var sent = new List<uint>();
        uint start = (uint)rng.Next();
        for (uint i = 0; i < 20_000; i++) if (rng.NextDouble() > 0.02) sent.Add(start + i); // 2 % loss
        // Reorder: swap neighbours now and then (distance < 64), duplicate some.
        for (int i = 1; i < sent.Count; i++) if (rng.NextDouble() < 0.01) (sent[i - 1], sent[i]) = (sent[i], sent[i - 1]);
        var wire = new List<uint>();
        foreach (uint s in sent) { wire.Add(s); if (rng.NextDouble() < 0.005) wire.Add(s); }

        var m = new GreSequenceMeter();
        var seen = new HashSet<uint>();
        uint highest = wire[0];
        long dup = 0, late = 0;
        foreach (uint s in wire)
        {
            var v = m.Observe(s);
            if (!seen.Add(s)) { dup++; Assert.Equal(SequenceVerdict.Duplicate, v); continue; }
            if ((int)(s - highest) < 0) { late++; Assert.Equal(SequenceVerdict.Reordered, v); continue; }
            highest = s;
            Assert.True(GreSequenceMeter.Accepts(v), $"{s}: {v}");
        }
        long lost = (long)(highest - start + 1) - seen.Count;
        Assert.Equal((dup, late, lost, 0L), (m.Duplicates, m.Reordered, m.Lost, m.Resyncs));
        Assert.Equal(wire.Count, m.Received);
    }

    [Fact]
    public void CopyFrom_CarriesStateAndCounters()
    {
        var a = new GreSequenceMeter();
        Feed(a, 10, 11, 13);
        var b = new GreSequenceMeter();
        b.CopyFrom(a);
        Assert.Equal(SequenceVerdict.InOrder, b.Observe(14));
        Assert.Equal(SequenceVerdict.Reordered, b.Observe(12));
        Assert.Equal((5L, 0L), (b.Received, b.Lost));
    }
}
