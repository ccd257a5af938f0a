namespace FastTun.Gateway.Capture;

/// <summary>One difference: a field of packet <see cref="Number"/> (null for a whole flow) with each side's value.</summary>
public sealed record CaptureDifference(int? Number, string Field, string A, string B)
{
    public override string ToString() => Number is int n ? $"packet {n}: {Field}: {A} | {B}" : $"flow {Field}: {A} | {B}";
}

/// <summary>The outcome of comparing two captures.</summary>
public sealed record CaptureDiffResult(int PacketsA, int PacketsB, int Compared, int PacketsDiffering, IReadOnlyList<CaptureDifference> Differences)
{
    public bool Same => Differences.Count == 0;
}

/// <summary>
/// Compares two captures of the same input (a Linux tunnel's and FastTun's, say) packet by packet and field by
/// field. What legitimately differs is ignored: timestamps (never read), IP Identification values as long as both
/// sides change them from one packet of a flow to the next, and checksum values, whose validity is compared
/// instead (they follow from the fields, the IP ID among them). Everything else that differs is listed, including
/// packets present on one side only. Fields can be ignored by name or by layer (<c>eth</c>, <c>eth.src</c>,
/// <c>gre.sequence</c>) for captures taken on different machines.
/// </summary>
public static class CaptureDiff
{
    public static CaptureDiffResult Compare(IReadOnlyList<CapturedPacket> a, IReadOnlyList<CapturedPacket> b,
        IReadOnlyCollection<string>? ignore = null)
    {
        ignore ??= Array.Empty<string>();
        var differences = new List<CaptureDifference>();
        var idsA = new IdTracker();
        var idsB = new IdTracker();
        int compared = Math.Min(a.Count, b.Count);
        int differing = 0;
        for (int i = 0; i < compared; i++)
        {
            var fa = PacketFields.Decode(a[i]);
            var fb = PacketFields.Decode(b[i]);
            idsA.Add(fa);
            idsB.Add(fb);
            int before = differences.Count;
            CompareFields(i + 1, fa, fb, ignore, differences);
            if (differences.Count > before) differing++;
        }
        for (int i = compared; i < a.Count; i++)
            differences.Add(new(i + 1, "packet", PacketFields.Summary(a[i]), "(missing)"));
        for (int i = compared; i < b.Count; i++)
            differences.Add(new(i + 1, "packet", "(missing)", PacketFields.Summary(b[i])));
        if (!Ignored("ipv4.id", ignore)) CompareIdBehaviour(idsA, idsB, differences);
        return new CaptureDiffResult(a.Count, b.Count, compared, differing, differences);
    }

    public static bool Ignored(string field, IReadOnlyCollection<string> ignore)
    {
        foreach (string pattern in ignore)
        {
            if (field == pattern) return true;
            if (field.Length > pattern.Length && field.StartsWith(pattern, StringComparison.Ordinal)
                && (field[pattern.Length] is '.' or '(')) return true;
        }
        return false;
    }

    private static void CompareFields(int number, List<PacketField> fa, List<PacketField> fb,
        IReadOnlyCollection<string> ignore, List<CaptureDifference> differences)
    {
        var byName = new Dictionary<string, PacketField>(fb.Count);
        foreach (var f in fb) byName.TryAdd(f.Name, f);
        var seen = new HashSet<string>();
        foreach (var f in fa)
        {
            seen.Add(f.Name);
            if (Ignored(f.Name, ignore)) continue;
            if (!byName.TryGetValue(f.Name, out var g)) { differences.Add(new(number, f.Name, Show(f.Value), "(absent)")); continue; }
            if (f.Kind == FieldKind.IpId || f.Value == g.Value) continue;
            if (f.Name.EndsWith(".payload", StringComparison.Ordinal)) differences.Add(PayloadDifference(number, f, g));
            else differences.Add(new(number, f.Name, f.Value, g.Value));
        }
        foreach (var g in fb)
            if (!seen.Contains(g.Name) && !Ignored(g.Name, ignore)) differences.Add(new(number, g.Name, "(absent)", Show(g.Value)));
    }

    private static string Show(string value) => value.Length > 40 ? value.Substring(0, 40) + "…" : value;

    private static CaptureDifference PayloadDifference(int number, PacketField a, PacketField b)
    {
        // Hex strings: two characters a byte.
        int common = Math.Min(a.Value.Length, b.Value.Length);
        int at = 0;
        while (at < common && a.Value[at] == b.Value[at]) at++;
        int offset = at / 2;
        string Byte(string hex) => offset * 2 + 2 <= hex.Length ? "0x" + hex.Substring(offset * 2, 2).ToLowerInvariant() : "end";
        return new(number, a.Name, $"{a.Value.Length / 2} bytes, byte {offset} = {Byte(a.Value)}", $"{b.Value.Length / 2} bytes, byte {offset} = {Byte(b.Value)}");
    }

    /// <summary>A side "changes" a flow's IP ID when no two consecutive packets of that flow carry the same one.</summary>
    private static void CompareIdBehaviour(IdTracker a, IdTracker b, List<CaptureDifference> differences)
    {
        foreach (var (flow, sa) in a.Flows)
        {
            if (!b.Flows.TryGetValue(flow, out var sb) || sa.Packets < 2 || sb.Packets < 2) continue;
            bool changesA = sa.Repeats == 0, changesB = sb.Repeats == 0;
            if (changesA == changesB) continue;
            differences.Add(new(null, flow + " ip id", sa.Describe(), sb.Describe()));
        }
    }

    private sealed class IdTracker
    {
        public readonly Dictionary<string, FlowIds> Flows = new();

        public void Add(List<PacketField> fields)
        {
            foreach (var f in fields)
            {
                if (f.Kind != FieldKind.IpId || f.Flow is null) continue;
                if (!Flows.TryGetValue(f.Flow, out var s)) Flows[f.Flow] = s = new FlowIds();
                if (s.Packets > 0 && s.Last == f.Value) { s.Repeats++; s.Repeated = f.Value; }
                s.Last = f.Value;
                s.Packets++;
            }
        }
    }

    private sealed class FlowIds
    {
        public int Packets, Repeats;
        public string? Last, Repeated;
        public string Describe() => Repeats == 0 ? $"changes over {Packets} packets" : $"repeats ({Repeated}) {Repeats} of {Packets - 1} times";
    }
}
