using FastTun.Packets.Headers;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace FastTun.Gateway.Config;

/// <summary>
/// Reads a script of iproute2 commands, the way seeds 000-003 set their tunnels up, into the same draft the set
/// lines build. Unlike set lines, a script is a sequence of edits: <c>ip tunnel change</c>, <c>ip link set</c>
/// and <c>ip route replace</c> override what came before, and <c>del</c> removes it. Grammar:
/// <code>
/// [ip netns exec NS] ip tunnel add|change|del NAME mode ipip|gre [local A] [remote B] [ttl N|inherit]
///     [tos T|inherit] [key K] [ikey K] [okey K] [csum] [icsum] [ocsum] [seq] [iseq] [oseq]
///     [pmtudisc|nopmtudisc] [dev IF]
/// ip link set [dev] IF [up|down] [mtu N]
/// ip addr add|del A[/N] [peer B[/N]] [broadcast X|brd X] [scope S] [label L] dev IF
/// ip route add|replace|change|del PREFIX|default [via GW] [dev IF] [metric M] [proto P] [scope S]
/// ip route add PREFIX nexthop via GW [dev IF] nexthop via GW2 [dev IF2] ...       (ECMP)
/// ip route add blackhole PREFIX [metric M]
/// ip addr|route|link|tunnel [show|list]     no effect
/// modprobe ...                              no effect (FastTun needs no kernel module)
/// # fasttun ...   or   set ...              FastTun's own lines (drivers, queues, workers, neighbours)
/// </code>
/// Objects and verbs may be abbreviated as iproute2 allows (<c>ip a a</c>, <c>ip r</c>, <c>ip l s</c>).
/// The Ethernet interfaces that get an address are the ones FastTun owns (driver af_packet unless a FastTun line
/// says otherwise). Defaults are iproute2's, not VyOS's: ttl inherit, tos 0 (ECN only), pmtudisc. A route's
/// metric M becomes distance M + 1 (1-255, lower wins), so no metric is distance 1, as a VyOS static route.
/// </summary>
internal sealed partial class Iproute2Reader
{
    private static readonly string[] SupportedModes = ["ipip", "gre"];
    private static readonly string[] OtherModes = ["sit", "isatap", "vti", "vti6", "ip6ip6", "ipip6", "ip6gre", "ip6tnl", "any", "ip6/ip6", "ip/ip6", "any/ip6", "ipv6/ip"];

    private sealed class TunnelState(string name, int line)
    {
        public string Name { get; } = name;
        public int Line { get; } = line;
        public (TunnelMode Mode, string Text, int Line) Mode;
        public (uint Value, string Text, int Line)? Local, Remote, Key, InputKey, OutputKey;
        public (byte Value, string Text, int Line) Ttl = (0, "inherit", line);
        public (TunnelTos Value, string Text, int Line) Tos = (TunnelTos.Fixed(0), "0", line);
        public int Checksum, InputChecksum, OutputChecksum, Sequence, InputSequence, OutputSequence; // line, 0 = off
        public (bool Value, int Line)? Pmtudisc;
        public (string Value, int Line)? Dev;
    }

    private sealed class LinkState
    {
        public (int Value, string Text, int Line)? Mtu;
        public (bool Up, int Line)? Admin;
    }

    private sealed class RouteState(uint prefix, int length, int metric, int line)
    {
        public uint Prefix { get; } = prefix;
        public int Length { get; } = length;
        public int Metric { get; } = metric;
        public int Line = line;
        public string? MaskedFrom;
        public bool Blackhole;
        public List<(uint Via, string? Dev, int Line)> Paths { get; } = [];
    }

    private readonly ConfigParser _parser;
    private readonly string _source;
    private readonly ILogger _logger;
    private readonly Dictionary<string, TunnelState> _tunnels = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LinkState> _links = new(StringComparer.Ordinal);
    private readonly List<RouteState> _routes = [];
    private (string Name, int Line)? _netns;
    private int _line;
    private string _text = "";

    private Iproute2Reader(ConfigParser parser, string source, ILogger logger)
    {
        _parser = parser;
        _source = source;
        _logger = logger;
    }

    public static ConfigDraft Parse(string text, string source, ILogger logger, List<ConfigDiagnostic> errors)
    {
        var reader = new Iproute2Reader(ConfigParser.Create(source, logger, errors), source, logger);
        var words = new List<string>();
        using var lines = new StringReader(text);
        string? line;
        int number = 0;
        while ((line = lines.ReadLine()) != null)
        {
            number++;
            reader.Line(line, number, words);
        }
        reader.Finish();
        return reader._parser.Draft;
    }

    private void Line(string raw, int number, List<string> words)
    {
        _line = number;
        string line = raw.Trim();
        if (line.StartsWith('$')) line = line[1..].TrimStart(); // a copied shell prompt
        _text = line;
        if (line.StartsWith('#'))
        {
            string rest = line[1..].TrimStart();
            if (rest.StartsWith("fasttun ", StringComparison.Ordinal)) _parser.ApplyLine("set " + rest, number, words);
            return;
        }
        if (line.StartsWith("set ", StringComparison.Ordinal))
        {
            _parser.ApplyLine(line, number, words);
            return;
        }
        if (!ConfigTokenizer.TryTokenize(line, words, out string? error))
        {
            Error($"{error}: {line}");
            return;
        }
        if (words.Count == 0) return;
        if (words[0] == "modprobe")
        {
            _parser.Info(number, "FastTun needs no kernel module", line);
            return;
        }
        int i = 0;
        if (words.Count >= 4 && words[0] == "ip" && words[1] == "netns" && words[2] == "exec")
        {
            string ns = words[3];
            if (_netns is { } seen && seen.Name != ns)
            {
                Error($"namespace {ns}, but line {seen.Line} configures {seen.Name}: one file describes one gateway: {line}");
                return;
            }
            _netns ??= (ns, number);
            i = 4;
        }
        if (i >= words.Count || words[i] != "ip")
        {
            Error($"expected an ip command (ip tunnel, ip link set, ip addr, ip route), a '# fasttun' or a 'set' line: {line}");
            return;
        }
        i++;
        while (i < words.Count && words[i] is "-4" or "-d" or "-details") i++;
        if (i >= words.Count) { Unsupported(); return; }
        string obj = words[i];
        var args = words.GetRange(i + 1, words.Count - i - 1);
        if (Matches(obj, "address")) Address(args);
        else if (Matches(obj, "route")) Route(args);
        else if (Matches(obj, "link")) Link(args);
        else if (Matches(obj, "tunnel") || obj == "tunl") Tunnel(args);
        else Unsupported();
    }

    /// <summary>iproute2's abbreviation rule: any prefix of the keyword.</summary>
    private static bool Matches(string word, string keyword) => word.Length > 0 && keyword.StartsWith(word, StringComparison.Ordinal);

    private static bool IsShow(List<string> args) => args.Count == 0 || Matches(args[0], "show") || Matches(args[0], "list") || args[0] == "ls";

    private void Tunnel(List<string> a)
    {
        if (IsShow(a)) { _parser.Info(_line, "a show command has no effect", _text); return; }
        string verb = a[0];
        bool add = verb == "add", change = verb is "change" or "chg", del = verb is "del" or "delete";
        if (!add && !change && !del) { Unsupported(); return; }
        // The name is the first word that is not a keyword, or follows 'name'.
        string? name = null;
        var rest = new List<string>();
        for (int k = 1; k < a.Count; k++)
        {
            if (a[k] == "name" && k + 1 < a.Count) { name = a[++k]; continue; }
            if (IsTunnelKeyword(a[k]))
            {
                rest.Add(a[k]);
                if (TakesValue(a[k]) && k + 1 < a.Count) rest.Add(a[++k]);
                continue;
            }
            if (name is null) name = a[k];
            else { Error($"unexpected '{a[k]}' in ip tunnel: {_text}"); return; }
        }
        if (name is null || !ConfigParser.IsInterfaceName(name)) { Error($"ip tunnel {verb} needs a tunnel name (1-15 characters of A-Z a-z 0-9 . _ -): {_text}"); return; }
        if (del)
        {
            if (!_tunnels.Remove(name)) { Error($"no tunnel {name} to delete: {_text}"); return; }
            _parser.Draft.Tunnels.RemoveAll(t => t.Name == name);
            _links.Remove(name);
            return;
        }
        TunnelState t;
        if (add)
        {
            if (_tunnels.TryGetValue(name, out var existing)) { Error($"tunnel {name} already exists (line {existing.Line}); use 'ip tunnel change': {_text}"); return; }
            if (_parser.Draft.Ethernets.Exists(e => e.Name == name)) { Error($"{name} is an ethernet interface here: {_text}"); return; }
            t = new TunnelState(name, _line);
            if (!rest.Contains("mode")) { Error($"ip tunnel add {name} needs 'mode ipip' or 'mode gre': {_text}"); return; }
        }
        else if (!_tunnels.TryGetValue(name, out t!)) { Error($"no tunnel {name} to change: {_text}"); return; }
        if (!TunnelOptions(t, rest)) return;
        if (add)
        {
            _tunnels[name] = t;
            _parser.Draft.Tunnel(name, _line);
        }
    }

    private static bool IsTunnelKeyword(string w) => w is "mode" or "local" or "remote" or "ttl" or "hoplimit" or "tos" or "dsfield" or "tclass"
        or "key" or "ikey" or "okey" or "csum" or "icsum" or "ocsum" or "seq" or "iseq" or "oseq" or "pmtudisc" or "nopmtudisc" or "dev";

    private static bool TakesValue(string w) => w is "mode" or "local" or "remote" or "ttl" or "hoplimit" or "tos" or "dsfield" or "tclass"
        or "key" or "ikey" or "okey" or "dev";

    private bool TunnelOptions(TunnelState t, List<string> w)
    {
        for (int k = 0; k < w.Count; k++)
        {
            string opt = w[k];
            string? v = TakesValue(opt) ? (k + 1 < w.Count ? w[++k] : null) : "";
            if (v is null) { Error($"'{opt}' needs a value: {_text}"); return false; }
            switch (opt)
            {
                case "mode":
                    if (v is "ipip" or "ipip/ip" or "ip/ip") t.Mode = (TunnelMode.Ipip, v, _line);
                    else if (v is "gre" or "gre/ip") t.Mode = (TunnelMode.Gre, v, _line);
                    else
                    {
                        string known = Array.IndexOf(OtherModes, v) >= 0 ? "a Linux tunnel mode FastTun does not do" : "not a tunnel mode";
                        Error($"mode '{v}' is {known}; FastTun supports {string.Join(" and ", SupportedModes)}: {_text}");
                        return false;
                    }
                    break;
                case "local" or "remote":
                    uint address = 0;
                    if (v != "any" && !Ipv4Address.TryParse(v, out address)) { Error($"{opt} '{v}' is not an IPv4 address: {_text}"); return false; }
                    if (opt == "local") t.Local = (address, v, _line); else t.Remote = (address, v, _line);
                    break;
                case "ttl" or "hoplimit":
                    if (v == "inherit") t.Ttl = (0, v, _line);
                    else if (byte.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out byte ttl)) t.Ttl = (ttl, v, _line);
                    else { Error($"ttl must be 0-255 or 'inherit', not '{v}': {_text}"); return false; }
                    break;
                case "tos" or "dsfield" or "tclass":
                    if (v == "inherit") t.Tos = (TunnelTos.Inherited, v, _line);
                    else
                    {
                        string hex = v.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? v[2..] : v;
                        if (hex.Length is 1 or 2 && byte.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte tos))
                            t.Tos = (TunnelTos.Fixed(tos), v, _line);
                        else { Error($"tos must be 'inherit' or 00-ff (hexadecimal, as ip tunnel reads it), not '{v}': {_text}"); return false; }
                    }
                    break;
                case "key" or "ikey" or "okey":
                    if (!ConfigParser.TryKey(v, out uint key)) { Error($"{opt} must be 0-4294967295 or a dotted quad, not '{v}': {_text}"); return false; }
                    if (opt == "key") { t.Key = (key, v, _line); t.InputKey = t.OutputKey = null; break; }
                    if (t.Key is { } both)
                    {
                        // One direction changes: the other keeps the key 'key' gave it.
                        (t.InputKey, t.OutputKey) = (both, both);
                        t.Key = null;
                    }
                    if (opt == "ikey") t.InputKey = (key, v, _line);
                    else t.OutputKey = (key, v, _line);
                    break;
                case "csum": t.Checksum = _line; break;
                case "icsum": t.InputChecksum = _line; break;
                case "ocsum": t.OutputChecksum = _line; break;
                case "seq": t.Sequence = _line; break;
                case "iseq": t.InputSequence = _line; break;
                case "oseq": t.OutputSequence = _line; break;
                case "pmtudisc" or "nopmtudisc": t.Pmtudisc = (opt == "pmtudisc", _line); break;
                case "dev":
                    if (!ConfigParser.IsInterfaceName(v)) { Error($"dev '{v}' is not an interface name: {_text}"); return false; }
                    t.Dev = (v, _line);
                    break;
            }
        }
        return true;
    }

    private void Link(List<string> a)
    {
        if (IsShow(a)) { _parser.Info(_line, "a show command has no effect", _text); return; }
        if (!Matches(a[0], "set"))
        {
            Error($"ip link {a[0]} is not supported: FastTun owns existing Ethernet interfaces and makes tunnels with 'ip tunnel add': {_text}");
            return;
        }
        int k = 1;
        if (k < a.Count && a[k] == "dev") k++;
        if (k >= a.Count || !ConfigParser.IsInterfaceName(a[k])) { Error($"ip link set needs an interface name: {_text}"); return; }
        string name = a[k++];
        if (k >= a.Count) { Error($"ip link set {name}: nothing to set (up, down or mtu N): {_text}"); return; }
        var link = LinkOf(name);
        for (; k < a.Count; k++)
        {
            switch (a[k])
            {
                case "up" or "down": link.Admin = (a[k] == "up", _line); break;
                case "mtu" when k + 1 < a.Count:
                    string v = a[++k];
                    if (int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int mtu) && mtu is >= 68 and <= 65535) link.Mtu = (mtu, v, _line);
                    else { Error($"mtu must be a number from 68 to 65535, not '{v}': {_text}"); return; }
                    break;
                default:
                    Error($"ip link set {name} {a[k]} is not supported (FastTun takes up, down and mtu N): {_text}");
                    return;
            }
        }
    }

    private LinkState LinkOf(string name)
    {
        if (!_links.TryGetValue(name, out var link)) _links[name] = link = new LinkState();
        return link;
    }

    private void Address(List<string> a)
    {
        if (IsShow(a)) { _parser.Info(_line, "a show command has no effect", _text); return; }
        bool add = Matches(a[0], "add"), del = a[0] is "del" or "delete";
        if (!add && !del) { Unsupported(); return; }
        string? dev = null, local = null, peer = null;
        for (int k = 1; k < a.Count; k++)
        {
            string w = a[k];
            bool hasValue = k + 1 < a.Count;
            if (w == "dev" && hasValue) dev = a[++k];
            else if (w == "peer" && hasValue) peer = a[++k];
            else if (w == "local" && hasValue) local = a[++k];
            else if (w is "broadcast" or "brd" or "scope" or "label" && hasValue) k++; // no effect on forwarding
            else if (local is null && !IsAddressKeyword(w)) local = w;
            else { Error($"unexpected '{w}' in ip addr {a[0]}: {_text}"); return; }
        }
        if (local is null || dev is null) { Error($"ip addr {a[0]} needs an address and 'dev IF': {_text}"); return; }
        if (!ConfigParser.IsInterfaceName(dev)) { Error($"dev '{dev}' is not an interface name: {_text}"); return; }
        if (!TryAddress(local, peer, out var address)) return;
        var tunnel = _parser.Draft.Tunnels.Find(t => t.Name == dev);
        var list = tunnel is not null ? tunnel.Addresses : _parser.Draft.Ethernet(dev, _line).Addresses;
        int found = list.FindIndex(x => x.Address.Address == address.Address);
        if (del)
        {
            if (found < 0) Error($"{dev} has no address {Ipv4Address.Format(address.Address)} to delete: {_text}");
            else list.RemoveAt(found);
            return;
        }
        if (found >= 0) { Error($"{dev} already has {Ipv4Address.Format(address.Address)} (line {list[found].Line}) (the kernel: \"File exists\"): {_text}"); return; }
        list.Add((address, _line));
    }

    private static bool IsAddressKeyword(string w) => w is "dev" or "peer" or "local" or "broadcast" or "brd" or "scope" or "label";

    /// <summary>A[/N] alone, or A[/N] peer B[/M]: with a peer the kernel keeps the peer's length (32 by default).</summary>
    private bool TryAddress(string local, string? peer, out InterfaceAddress address)
    {
        address = default;
        if (!TryPrefix(local, out uint a, out int length)) { Error($"'{local}' is not an IPv4 address A.B.C.D[/0-32]: {_text}"); return false; }
        if (peer is null)
        {
            address = new InterfaceAddress(a, length);
            return true;
        }
        if (!TryPrefix(peer, out uint p, out int peerLength) || p == 0) { Error($"peer '{peer}' is not an IPv4 address A.B.C.D[/0-32]: {_text}"); return false; }
        address = new InterfaceAddress(a, peerLength, p);
        return true;
    }

    private static bool TryPrefix(string text, out uint address, out int length)
    {
        length = 32;
        return text.Contains('/') ? ConfigIpv4.TryParsePrefix(text, out address, out length) : Ipv4Address.TryParse(text, out address);
    }

    /// <summary>Writes the final state of tunnels, links and routes into the draft.</summary>
    private void Finish()
    {
        var draft = _parser.Draft;
        foreach (var (name, link) in _links)
        {
            var tunnel = draft.Tunnels.Find(t => t.Name == name);
            var eth = draft.Ethernets.Find(e => e.Name == name);
            if (link.Admin is { Up: false } down && (tunnel is not null || eth is not null))
                _parser.Error(down.Line, $"{name} is left down: FastTun's interfaces and tunnels are always up, so bring it up or remove it");
            if (link.Mtu is { } mtu)
            {
                if (tunnel is not null) tunnel.Mtu = Leaf(mtu.Value, mtu.Text, mtu.Line);
                else if (eth is not null) eth.Mtu = Leaf(mtu.Value, mtu.Text, mtu.Line);
                else _parser.Info(mtu.Line, $"{name} has no address, so FastTun does not own it", $"ip link set {name} mtu {mtu.Text}");
            }
        }
        foreach (var t in draft.Tunnels)
        {
            if (!_tunnels.TryGetValue(t.Name, out var s)) continue;
            t.Encapsulation = Leaf(s.Mode.Mode, s.Mode.Text, s.Mode.Line);
            if (s.Local is { } local) t.Local = Leaf(local.Value, local.Text, local.Line);
            if (s.Remote is { } remote) t.Remote = Leaf(remote.Value, remote.Text, remote.Line);
            t.Ttl = Leaf(s.Ttl.Value, s.Ttl.Text, s.Ttl.Line);
            t.Tos = Leaf(s.Tos.Value, s.Tos.Text, s.Tos.Line);
            if (s.Key is { } key) t.Key = Leaf(key.Value, key.Text, key.Line);
            if (s.InputKey is { } ikey) t.InputKey = Leaf(ikey.Value, ikey.Text, ikey.Line);
            if (s.OutputKey is { } okey) t.OutputKey = Leaf(okey.Value, okey.Text, okey.Line);
            if (s.Checksum != 0) t.Checksum = Leaf(true, "csum", s.Checksum);
            if (s.InputChecksum != 0) t.InputChecksum = Leaf(true, "icsum", s.InputChecksum);
            if (s.OutputChecksum != 0) t.OutputChecksum = Leaf(true, "ocsum", s.OutputChecksum);
            if (s.Sequence != 0) t.Sequence = Leaf(true, "seq", s.Sequence);
            if (s.InputSequence != 0) t.InputSequence = Leaf(true, "iseq", s.InputSequence);
            if (s.OutputSequence != 0) t.OutputSequence = Leaf(true, "oseq", s.OutputSequence);
            if (s.Pmtudisc is { } p) t.PathMtuDiscovery = Leaf(p.Value, p.Value ? "pmtudisc" : "nopmtudisc", p.Line);
            if (s.Dev is { } dev) t.Dev = Leaf(dev.Value, dev.Value, dev.Line);
        }
        FinishRoutes(draft);
        _logger.LogDebug("{Source}: iproute2 script read, {Tunnels} tunnel(s), {Routes} route(s)", _source, _tunnels.Count, _routes.Count);
    }

    private static Leaf<T> Leaf<T>(T value, string text, int line) => new() { Value = value, Text = text, Line = line, IsSet = true };

    private void Unsupported() => Error($"unknown or unsupported ip command: {_text}");

    private void Error(string message) => _parser.Error(_line, message);
}
