using FastTun.Gateway.Config;
using FastTun.Gateway.Dataplane;

namespace FastTun.Gateway.Tests.Keepalive;

/// <summary>The keepalive state machine on an injected clock: no sleeping, no timing dependence.</summary>
public class KeepaliveMachineTests
{
    private static readonly KeepaliveSettings TenThree = new(10, 3);

    [Fact]
    public void Step_FirstCall_SendsAtOnceAndStaysUp()
    {
        var m = new KeepaliveMachine(TenThree, 1000, 0, firstProbeId: 5);
        Assert.Equal(KeepaliveStep.Send, m.Step(1000, 0));
        Assert.Equal(5, m.LastProbeId);
        Assert.Equal(KeepaliveStep.None, m.Step(5000, 0));
        Assert.Equal(KeepaliveState.Up, m.State);
    }

    [Fact]
    public void Step_RepliesEveryInterval_NeverMisses()
    {
        var m = new KeepaliveMachine(TenThree, 0, 0);
        long replies = 0;
        for (long t = 0; t < 100_000; t += 100)
        {
            if (t % 10_000 == 100) replies++; // each probe answered 100 ms after it left
            m.Step(t, replies);
            Assert.Equal(KeepaliveState.Up, m.State);
            Assert.Equal(0, m.Missed);
        }
        Assert.Equal(0, m.Transitions);
    }

    [Fact]
    public void Step_RetriesMissed_GoesDownOnceThenUpOnFirstReply()
    {
        var m = new KeepaliveMachine(TenThree, 0, 0);
        var steps = new List<(long T, KeepaliveStep Step)>();
        for (long t = 0; t <= 60_000; t += 100)
        {
            var s = m.Step(t, 0);
            if (s != KeepaliveStep.None) steps.Add((t, s));
        }
        // Probes at 0, 10, 20, 30 s: the one at 30 s finds three unanswered in a row → down, once.
        Assert.Equal([(0, KeepaliveStep.Send), (10_000, KeepaliveStep.Send), (20_000, KeepaliveStep.Send),
            (30_000, KeepaliveStep.Send | KeepaliveStep.WentDown), (40_000, KeepaliveStep.Send), (50_000, KeepaliveStep.Send),
            (60_000, KeepaliveStep.Send)], steps);
        Assert.Equal(KeepaliveState.Down, m.State);
        Assert.Equal(1, m.Transitions);
        Assert.Equal(30_000, m.LastChangeMs);

        Assert.Equal(KeepaliveStep.WentUp, m.Step(60_020, 1)); // the first reply
        Assert.Equal(KeepaliveState.Up, m.State);
        Assert.Equal(2, m.Transitions);
        Assert.Equal(60_020, m.LastChangeMs);
        Assert.Equal(0, m.Missed);
        Assert.Equal(KeepaliveStep.None, m.Step(60_100, 1));
    }

    [Fact]
    public void Step_OneMissThenReply_StaysUp()
    {
        var m = new KeepaliveMachine(new KeepaliveSettings(1, 2), 0, 0);
        m.Step(0, 0);
        m.Step(1000, 0); // probe 1 missed
        Assert.Equal(1, m.Missed);
        m.Step(1500, 1);
        Assert.Equal(0, m.Missed);
        m.Step(2000, 1);
        Assert.Equal(KeepaliveStep.Send, m.Step(3000, 1)); // one miss again, not two
        Assert.Equal(KeepaliveState.Up, m.State);
        Assert.Equal(0, m.Transitions);
    }

    [Fact]
    public void Step_ProbeIdsWrapSkippingZero()
    {
        var m = new KeepaliveMachine(new KeepaliveSettings(1, 255), 0, 0, firstProbeId: ushort.MaxValue);
        m.Step(0, 0);
        Assert.Equal(ushort.MaxValue, m.LastProbeId);
        m.Step(1000, 0);
        Assert.Equal(1, m.LastProbeId);
    }

    [Fact]
    public void Step_LongStall_RestartsCadenceFromNow()
    {
        var m = new KeepaliveMachine(new KeepaliveSettings(1, 3), 0, 0);
        m.Step(0, 0);
        Assert.Equal(KeepaliveStep.Send, m.Step(60_000, 0)); // a suspended process: one probe, not sixty
        Assert.Equal(KeepaliveStep.None, m.Step(60_500, 0));
        Assert.Equal(KeepaliveStep.Send, m.Step(61_000, 0));
    }

    [Fact]
    public void Reconfigure_ShorterInterval_NextProbeSooner()
    {
        var m = new KeepaliveMachine(new KeepaliveSettings(30, 3), 0, 0);
        m.Step(0, 0);
        m.Reconfigure(new KeepaliveSettings(2, 3), 500);
        Assert.Equal(KeepaliveStep.None, m.Step(2000, 0));
        Assert.Equal(KeepaliveStep.Send, m.Step(2500, 0));
    }
}
