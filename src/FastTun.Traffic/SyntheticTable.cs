using FastTun.Packets.Routing;

namespace FastTun.Traffic;

/// <summary>
/// Deterministic synthetic "full Internet" IPv4 table for benchmarks (`fasttun bench worker`, bench-lpm) and tests (no real table can be downloaded
/// here). Same (count, seed) → same routes, on every machine and .NET version (own PRNG, no System.Random).
///
/// <para>Model. Prefixes avoid special-purpose space (0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12,
/// 192.0.0/24, 192.0.2/24, 192.168/16, 198.18/15, 198.51.100/24, 203.0.113/24, 224/3). Each public /8 gets a
/// weight and a density; the /16s it keeps "active" get weights from it, and every prefix /17–/32 is carved
/// inside an active /16 drawn by weight — so more-specifics cluster inside shared /8s and /16s the way
/// allocations do. /16s are drawn from all public /16s (the requested 5 % is ~52k, most of them), /8–/15
/// uniformly from public space. Length mix: /24 60 %, /23 8 %, /22 7 %, /21 4.5 %, /20 5.5 %, /19 5.5 %,
/// /18 2 %, /17 1 %, /16 5 %, /8–/15 0.5 % and /25–/32 1 % (each group split with decreasing weight toward
/// rarer lengths); rounding goes to /24. Next hops: 70 % take their /16's "home" next hop (one origin tends
/// to sit behind one peer), 30 % are uniform in [0, nextHopCount). Routes come back sorted by
/// (prefix, length), like a table dump.</para>
/// </summary>
public static class SyntheticTable
{
    public const int DefaultPrefixCount = 1_036_829;
    public const ulong DefaultSeed = 0x5EED_F457_7u;
    public const int DefaultNextHopCount = 1024;

    private static readonly (uint Prefix, int Length)[] Reserved =
    [
        (0x00000000, 8), (0x0A000000, 8), (0x64400000, 10), (0x7F000000, 8), (0xA9FE0000, 16),
        (0xAC100000, 12), (0xC0000000, 24), (0xC0000200, 24), (0xC0A80000, 16), (0xC6120000, 15),
        (0xC6336400, 24), (0xCB007100, 24), (0xE0000000, 3),
    ];

    /// <summary>Percent of the table per length; 8..15 and 25..32 as groups split by the weights below.</summary>
    private static readonly (int Length, double Percent)[] Mix =
    [
        (23, 8), (22, 7), (21, 4.5), (20, 5.5), (19, 5.5), (18, 2), (17, 1), (16, 5),
    ];
    private static readonly double[] ShortWeights = [1, 1, 3, 7, 20, 40, 85, 180];        // /8../15, 0.5 %
    private static readonly double[] LongWeights = [20, 15, 12, 12, 12, 10, 4, 15];         // /25../32, 1 %

    /// <summary>True when the prefix overlaps no special-purpose block.</summary>
    public static bool IsPublic(uint prefix, int length)
    {
        foreach ((uint r, int rl) in Reserved)
        {
            uint mask = Route4.Mask(Math.Min(length, rl));
            if (((prefix ^ r) & mask) == 0) return false;
        }
        return true;
    }

    public static Route4[] Generate(int count = DefaultPrefixCount, ulong seed = DefaultSeed, int nextHopCount = DefaultNextHopCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(nextHopCount);
        var rng = new SplitMix64(seed);
        int[] perLength = LengthCounts(count);
        var active = new ActiveSpace(ref rng);
        var seen = new HashSet<ulong>(count);
        var routes = new List<Route4>(count);

        for (int length = 8; length <= 32; length++)
        {
            int want = perLength[length];
            int made = 0;
            while (made < want)
            {
                uint prefix;
                if (length <= 16)
                {
                    prefix = rng.NextUInt() & Route4.Mask(length);
                    if (!IsPublic(prefix, length)) continue;
                }
                else
                {
                    uint slash16 = active.Pick(ref rng);
                    prefix = ((slash16 << 16) | (rng.NextUInt() & 0xFFFF)) & Route4.Mask(length);
                    if (!IsPublic(prefix, length)) continue;
                }
                if (!seen.Add(((ulong)length << 32) | prefix)) continue;
                uint home = (uint)(SplitMix64.Mix(seed ^ (prefix >> 16)) % (ulong)nextHopCount);
                uint nextHop = rng.NextInt(10) < 7 ? home : (uint)rng.NextInt((uint)nextHopCount);
                routes.Add(new Route4(prefix, length, nextHop));
                made++;
            }
        }
        Route4[] result = routes.ToArray();
        Array.Sort(result, static (a, b) => a.Prefix != b.Prefix ? a.Prefix.CompareTo(b.Prefix) : a.Length.CompareTo(b.Length));
        return result;
    }

    /// <summary>
    /// Destination set: <paramref name="insideFraction"/> of the addresses fall inside a uniformly chosen route
    /// (random host bits), the rest are uniform over all 2^32 addresses.
    /// </summary>
    public static uint[] Destinations(ReadOnlySpan<Route4> routes, int count, ulong seed = DefaultSeed + 1, double insideFraction = 0.9)
    {
        var rng = new SplitMix64(seed);
        var result = new uint[count];
        uint insideThreshold = (uint)(insideFraction * uint.MaxValue);
        for (int i = 0; i < count; i++)
        {
            if (routes.Length > 0 && rng.NextUInt() <= insideThreshold)
            {
                Route4 r = routes[(int)rng.NextInt((uint)routes.Length)];
                result[i] = r.Prefix | (rng.NextUInt() & ~Route4.Mask(r.Length));
            }
            else
            {
                result[i] = rng.NextUInt();
            }
        }
        return result;
    }

    internal static int[] LengthCounts(int count)
    {
        var perLength = new int[33];
        foreach ((int length, double percent) in Mix) perLength[length] = (int)(count * percent / 100);
        Split(perLength, 8, ShortWeights, count * 0.5 / 100);
        Split(perLength, 25, LongWeights, count * 1.0 / 100);
        int assigned = 0;
        foreach (int n in perLength) assigned += n;
        perLength[24] = count - assigned;
        // Tiny tables cannot hold their share of very short prefixes; cap each length at what public space has.
        for (int length = 8; length <= 16; length++)
        {
            int cap = (int)((1L << length) * 82 / 100);   // ~86 % of space is public; leave room to draw distinct ones
            if (perLength[length] > cap)
            {
                perLength[24] += perLength[length] - cap;
                perLength[length] = cap;
            }
        }
        return perLength;
    }

    private static void Split(int[] perLength, int first, double[] weights, double total)
    {
        double sum = 0;
        foreach (double w in weights) sum += w;
        for (int i = 0; i < weights.Length; i++) perLength[first + i] = (int)(total * weights[i] / sum);
    }

    /// <summary>Weighted set of "active" public /16s in which more-specifics are carved.</summary>
    private sealed class ActiveSpace
    {
        private readonly uint[] _slash16;
        private readonly double[] _cumulative;

        public ActiveSpace(ref SplitMix64 rng)
        {
            var slash16 = new List<uint>();
            var cumulative = new List<double>();
            double total = 0;
            for (uint a = 1; a < 224; a++)
            {
                double weight8 = 0.2 + 4 * Math.Pow(rng.NextDouble(), 3);   // a few heavy /8s
                double density = 0.35 + 0.6 * rng.NextDouble();
                for (uint b = 0; b < 256; b++)
                {
                    uint s16 = (a << 8) | b;
                    bool keep = rng.NextDouble() < density;
                    double jitter = 0.25 + 1.5 * rng.NextDouble();
                    if (!keep || !IsPublic(s16 << 16, 16)) continue;
                    total += weight8 * jitter;
                    slash16.Add(s16);
                    cumulative.Add(total);
                }
            }
            _slash16 = slash16.ToArray();
            _cumulative = cumulative.ToArray();
        }

        public uint Pick(ref SplitMix64 rng)
        {
            double target = rng.NextDouble() * _cumulative[^1];
            int at = Array.BinarySearch(_cumulative, target);
            if (at < 0) at = ~at;
            return _slash16[Math.Min(at, _slash16.Length - 1)];
        }
    }
}

/// <summary>SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, fully specified — deterministic everywhere.</summary>
public struct SplitMix64(ulong seed)
{
    private ulong _state = seed;

    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong Next() => Mix(_state += 0x9E3779B97F4A7C15UL);
    public uint NextUInt() => (uint)(Next() >> 32);
    /// <summary>Uniform in [0, bound) (multiply-shift; bias below 2^-32 per value).</summary>
    public uint NextInt(uint bound) => (uint)(((ulong)NextUInt() * bound) >> 32);
    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));
}
