namespace FastTun.Traffic;

/// <summary>What one trial measured: packets offered and delivered at a requested rate (0 = max).</summary>
public readonly record struct Rfc2544Outcome(long Sent, long Received, double TxPps, double RxPps);

public sealed record Rfc2544Trial(int Step, double RequestedRate, long Sent, long Received, double TxPps, double RxPps,
    double LossPercent, bool Passed);

/// <param name="ThroughputPps">The highest zero-loss rate the generator actually achieved (≤ the rate offered).</param>
public sealed record Rfc2544Result(double ThroughputPps, bool GeneratorLimited, IReadOnlyList<Rfc2544Trial> Trials);

/// <summary>
/// RFC 2544 §26.1 throughput: the highest offered rate at which the device forwards every frame (or loses at
/// most <c>lossPercent</c>). One trial at the generator's maximum first: if it passes, the device keeps up with
/// the generator and that rate is the answer (flagged <see cref="Rfc2544Result.GeneratorLimited"/>). Otherwise
/// a binary search between 0 and the maximum, whose first probe is the rate the device delivered at the
/// maximum (usually close to the answer) and whose second is 10 % above or below it, ending when the interval is narrower than <c>resolutionPercent</c> of
/// its top or after <c>maxTrials</c>.
/// </summary>
public static class Rfc2544Search
{
    public static Rfc2544Result Run(Func<double, Rfc2544Outcome> trial, double maxRate, double lossPercent,
        double resolutionPercent, int maxTrials, Action<Rfc2544Trial>? progress = null)
    {
        var trials = new List<Rfc2544Trial>();
        Rfc2544Trial Measure(double rate)
        {
            Rfc2544Outcome o = trial(rate);
            double loss = o.Sent > 0 ? Math.Max(0, o.Sent - o.Received) * 100.0 / o.Sent : 100;
            var t = new Rfc2544Trial(trials.Count + 1, rate, o.Sent, o.Received, o.TxPps, o.RxPps, loss,
                o.Sent > 0 && loss <= lossPercent);
            trials.Add(t);
            progress?.Invoke(t);
            return t;
        }

        Rfc2544Trial top = Measure(maxRate);
        double hi = maxRate > 0 ? maxRate : top.TxPps;
        if (top.Passed) return new Rfc2544Result(hi, maxRate <= 0, trials);
        double lo = 0;
        double best = 0;
        double next = top.RxPps > 0 && top.RxPps < hi ? top.RxPps : hi / 2;
        bool bracketing = true; // the second probe steps 10 % away from the first instead of bisecting
        while (trials.Count < maxTrials && hi - lo > hi * resolutionPercent / 100.0)
        {
            Rfc2544Trial t = Measure(Math.Round(next));
            if (t.Passed)
            {
                lo = t.RequestedRate;
                // The rate the generator achieved, not the one asked for: on a busy host it can fall short.
                best = Math.Max(best, t.TxPps > 0 ? Math.Min(t.TxPps, lo) : lo);
            }
            else
            {
                hi = t.RequestedRate;
            }
            next = (lo + hi) / 2;
            if (bracketing)
            {
                bracketing = false;
                double step = t.Passed ? t.RequestedRate * 1.1 : t.RequestedRate * 0.9;
                if (step > lo && step < hi) next = step;
            }
        }
        return new Rfc2544Result(best, false, trials);
    }
}
