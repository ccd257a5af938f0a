using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Tests;

/// <summary>The keepalive probe log, made by the first probe sent (a hub's tunnels that never probe keep none):
/// replies against a dictionary of the probes sent as the oracle.</summary>
public class TunnelKeepaliveLogTests
{
    [Fact]
    public void RecordReply_NoProbeSentYet_CountsStray()
    {
        var k = new TunnelKeepalive();
        Assert.False(k.RecordReply(7, 1000));
        Assert.Equal(1, k.Stray);
        Assert.Equal(0, k.Replies);
    }

    [Fact]
    public void RecordReply_RandomSendsAndReplies_MatchesDictionaryOfLatestProbePerSlot()
    {
        var rng = new Random(4);
        var k = new TunnelKeepalive();
        var sent = new Dictionary<int, (ushort Id, long Ticks)>(); // slot (id mod 64) -> latest probe
        long ticks = 1;
        int replies = 0, stray = 0;
        for (int i = 0; i < 5_000; i++)
        {
            ticks += rng.Next(1, 100);
            ushort id = (ushort)rng.Next(1, 300);
            if (rng.Next(2) == 0)
            {
                k.MarkSent(id, ticks);
                sent[id % 64] = (id, ticks);
                continue;
            }
            bool expected = sent.TryGetValue(id % 64, out var p) && p.Id == id;
            Assert.Equal(expected, k.RecordReply(id, ticks));
            if (expected) replies++; else stray++;
        }
        Assert.Equal(replies, k.Replies);
        Assert.Equal(stray, k.Stray);
        Assert.True(replies > 100 && stray > 100);
    }
}
