using System.CommandLine;
using System.Globalization;
using FastTun.Traffic;

namespace FastTun.Gateway.Cli;

/// <summary>An IPv4 address with an optional UDP port (A.B.C.D[:PORT]).</summary>
public readonly record struct Endpoint(uint Address, ushort? Port);

/// <summary>
/// The generator's options, made once per command that takes them: <c>gen</c> reads their values, and
/// <c>bench rfc2544</c> validates the same options and forwards what was typed to the <c>gen</c> it starts.
/// </summary>
public sealed class GenOptions
{
    public Option<Endpoint?> Dst { get; } = EndpointOption("--dst", "destination address and UDP port (default port 9)", "IP[:PORT]");
    public Option<Endpoint?> Src { get; } = EndpointOption("--src", "source address (default: the interface's first address)", "IP");
    public Option<Endpoint?> Via { get; } = EndpointOption("--via", "next hop to ARP for instead of the destination", "IP");
    public Option<string?> DstMac { get; } = Mac("--dst-mac", "destination MAC (default: resolved by ARP)");
    public Option<string?> SrcMac { get; } = Mac("--src-mac", "source MAC (default: the interface's)");
    public Option<string?> InnerDstMac { get; } = Mac("--inner-dst-mac", "inner destination MAC for VXLAN");
    public Option<int> Flows { get; } = CliOptions.Int("--flows", "distinct UDP source ports", 1, 65536, 1);
    public Option<int> Batch { get; } = CliOptions.Int("--batch", "frames per send", 1, 256, 64);
    public Option<int> Queue { get; } = CliOptions.Int("--queue", "interface queue", 0, 1023, 0);
    public Option<TrafficEncap> Encap { get; } = CliOptions.Completing(CliOptions.Validated("--encap", "wrap the UDP packets in a tunnel",
        "none|ipip|gre|vxlan", TryEncap, "one of none, ipip, gre, vxlan", TrafficEncap.None), "none", "ipip", "gre", "vxlan");
    public Option<Endpoint?> OuterSrc { get; } = EndpointOption("--outer-src", "outer source address (with --encap)", "IP");
    public Option<Endpoint?> OuterDst { get; } = EndpointOption("--outer-dst", "outer destination address (with --encap)", "IP");
    public Option<uint?> Key { get; } = CliOptions.Optional("--key", "GRE key", "K",
        (string t, out uint v) => uint.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out v), "a number from 0 to 4294967295");
    public Option<bool> Csum { get; } = new("--csum") { Description = "GRE checksum" };
    public Option<bool> Seq { get; } = new("--seq") { Description = "GRE sequence numbers" };
    public Option<int> Vni { get; } = CliOptions.Int("--vni", "VXLAN network identifier", 0, 0xFFFFFF, 42);

    /// <summary>Every option above, in help order.</summary>
    public IEnumerable<Option> All => [Dst, Src, Via, DstMac, SrcMac, Flows, Batch, Queue, Encap, OuterSrc, OuterDst, Key, Csum, Seq, Vni, InnerDstMac];

    /// <summary>Adds the options and the checks between them (encap needs outer addresses; GRE-only options).</summary>
    public void AddTo(Command command, bool dstRequired)
    {
        foreach (var o in All) command.Options.Add(o);
        command.Validators.Add(r =>
        {
            if (dstRequired && r.GetResult(Dst) is null) r.AddError("--dst is required");
            var encap = CliOptions.ValueOrDefault(r, Encap);
            if (encap != TrafficEncap.None && (r.GetResult(OuterSrc) is null || r.GetResult(OuterDst) is null))
                r.AddError("--encap needs --outer-src and --outer-dst");
            if (encap != TrafficEncap.Gre && (r.GetResult(Key) is not null || r.GetValue(Csum) || r.GetValue(Seq)))
                r.AddError("--key, --csum and --seq are GRE options (--encap gre)");
        });
    }

    /// <summary>The options typed on this command line, as words for a child <c>fasttun gen</c>.</summary>
    public List<string> Forward(ParseResult result)
    {
        var words = new List<string>();
        foreach (var o in All)
        {
            var r = result.GetResult(o);
            if (r is null || r.Implicit) continue;
            if (o is Option<bool>) { if (result.GetValue((Option<bool>)o)) words.Add(o.Name); continue; }
            words.Add(o.Name);
            words.Add(r.Tokens[^1].Value);
        }
        return words;
    }

    public static bool TryEncap(string text, out TrafficEncap encap)
    {
        switch (text)
        {
            case "none": encap = TrafficEncap.None; return true;
            case "ipip": encap = TrafficEncap.Ipip; return true;
            case "gre": encap = TrafficEncap.Gre; return true;
            case "vxlan": encap = TrafficEncap.Vxlan; return true;
            default: encap = default; return false;
        }
    }

    public static Option<TrafficDriver> Driver(string name = "--driver", string description = "af_xdp or af_packet") =>
        CliOptions.Completing(CliOptions.Validated(name, description, "af_xdp|af_packet", TrafficPorts.TryParseDriver, "af_xdp or af_packet",
            TrafficDriver.AfXdp), "af_xdp", "af_packet");

    public static Option<int> Size() => CliOptions.Int("--size", "frame size in bytes (without FCS)", TrafficSpec.MinSize, TrafficSpec.MaxSize, 64);

    private static Option<Endpoint?> EndpointOption(string name, string description, string helpName) =>
        CliOptions.Optional(name, description, helpName, (string t, out Endpoint e) =>
        {
            bool ok = TrafficArgs.TryEndpoint(t, out uint address, out ushort? port);
            e = new Endpoint(address, port);
            return ok;
        }, helpName.Contains("PORT", StringComparison.Ordinal) ? "A.B.C.D or A.B.C.D:PORT" : "an IPv4 address A.B.C.D");

    /// <summary>A MAC option. Its value stays text (an array-typed option would be parsed as a list of values);
    /// the validator checks it while parsing and <see cref="MacBytes"/> converts it.</summary>
    public static Option<string?> Mac(string name, string description)
    {
        var option = new Option<string?>(name) { Description = description, HelpName = "MAC" };
        option.Validators.Add(r =>
        {
            if (r.Tokens.Count > 0 && !TrafficArgs.TryMac(r.Tokens[^1].Value, out _))
                r.AddError($"{name}: '{r.Tokens[^1].Value}' is not a MAC address aa:bb:cc:dd:ee:ff");
        });
        return option;
    }

    /// <summary>The six bytes of a validated MAC option's text, or null when the option was not given.</summary>
    public static byte[]? MacBytes(string? text) => text is not null && TrafficArgs.TryMac(text, out var mac) ? mac : null;
}
