using FastTun.Gateway.Config;

namespace FastTun.Gateway.Dataplane;

public enum KeepaliveState { Up, Down }

/// <summary>What one <see cref="KeepaliveMachine.Step"/> asks the caller to do.</summary>
[Flags]
public enum KeepaliveStep
{
    None = 0,
    /// <summary>Send the next probe (id <see cref="KeepaliveMachine.LastProbeId"/>).</summary>
    Send = 1,
    /// <summary>The tunnel just went down: withdraw its routes.</summary>
    WentDown = 2,
    /// <summary>The tunnel just came back: restore its routes.</summary>
    WentUp = 4,
}

/// <summary>
/// The keepalive state of one tunnel, as Cisco IOS keeps it for <c>keepalive PERIOD RETRIES</c>: a probe every
/// interval; a probe still unanswered when the next one is due is a miss; <see cref="KeepaliveSettings.Retries"/>
/// misses in a row take the tunnel down; any reply resets the misses and brings a down tunnel up at once. The tunnel
/// starts up (its routes installed), as a tunnel interface comes up when configured.
/// Pure: time is the caller's (milliseconds of any monotonic clock) and replies are a running count, so tests
/// drive it without waiting. Not thread-safe: the owner serialises calls.
/// </summary>
public sealed class KeepaliveMachine
{
    private long _nextSendMs;
    private long _seenReplies;
    private bool _outstanding;

    public KeepaliveMachine(KeepaliveSettings settings, long nowMs, long replies, ushort firstProbeId = 1)
    {
        Settings = settings;
        _nextSendMs = nowMs;
        _seenReplies = replies;
        LastProbeId = (ushort)(firstProbeId - 1);
    }

    public KeepaliveSettings Settings { get; private set; }
    public KeepaliveState State { get; private set; } = KeepaliveState.Up;
    /// <summary>Probes unanswered in a row.</summary>
    public int Missed { get; private set; }
    /// <summary>Up → down and down → up changes so far.</summary>
    public long Transitions { get; private set; }
    /// <summary>Clock of the latest transition, or null before the first.</summary>
    public long? LastChangeMs { get; private set; }
    /// <summary>Id of the latest probe <see cref="Step"/> asked to send (the inner IP ID; never 0).</summary>
    public ushort LastProbeId { get; private set; }

    /// <summary>A changed interval or retry count: the next probe goes no later than one new interval from now.</summary>
    public void Reconfigure(KeepaliveSettings settings, long nowMs)
    {
        if (settings == Settings) return;
        Settings = settings;
        _nextSendMs = Math.Min(_nextSendMs, nowMs + settings.IntervalSeconds * 1000L);
    }

    /// <summary>Advances to <paramref name="nowMs"/> with <paramref name="replies"/> replies counted so far.</summary>
    public KeepaliveStep Step(long nowMs, long replies)
    {
        var step = KeepaliveStep.None;
        if (replies != _seenReplies)
        {
            _seenReplies = replies;
            _outstanding = false;
            Missed = 0;
            if (State == KeepaliveState.Down) step |= Change(KeepaliveState.Up, nowMs);
        }
        if (nowMs >= _nextSendMs)
        {
            if (_outstanding)
            {
                Missed++;
                if (Missed >= Settings.Retries && State == KeepaliveState.Up) step |= Change(KeepaliveState.Down, nowMs);
            }
            _outstanding = true;
            LastProbeId = LastProbeId == ushort.MaxValue ? (ushort)1 : (ushort)(LastProbeId + 1);
            long interval = Settings.IntervalSeconds * 1000L;
            // Keep the cadence; after a long stall (a suspended process) start again from now.
            _nextSendMs = nowMs - _nextSendMs >= interval ? nowMs + interval : _nextSendMs + interval;
            step |= KeepaliveStep.Send;
        }
        return step;
    }

    private KeepaliveStep Change(KeepaliveState state, long nowMs)
    {
        State = state;
        Transitions++;
        LastChangeMs = nowMs;
        return state == KeepaliveState.Down ? KeepaliveStep.WentDown : KeepaliveStep.WentUp;
    }
}
