using FastTun.Packets.Headers;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace FastTun.Gateway.Config;

/// <summary>
/// Reads VyOS <c>set</c> lines (as <c>show configuration commands</c> prints them) into a
/// <see cref="ConfigDraft"/>. One leaf per line, as VyOS prints them. The grammar (values may be quoted):
/// <code>
/// set interfaces ethernet NAME [address A.B.C.D/L | description TEXT | hw-id MAC | mtu 68-65535]
/// set interfaces ethernet NAME duplex|speed|smp-affinity VALUE      accepted, ignored, logged
/// set interfaces loopback lo                                       accepted, ignored, logged
/// set interfaces ethernet|tunnel NAME address A.B.C.D peer P[/L]      (FastTun, iproute2's peer address)
/// set interfaces tunnel tunN [address A.B.C.D/L | encapsulation ipip|gre | local-ip A | remote-ip A
///                             | mtu N | multicast enable|disable | description TEXT]
/// set interfaces tunnel tunN parameters ip ttl 0-255|inherit        (0 = inherit; default 255 as VyOS 1.2)
/// set interfaces tunnel tunN parameters ip tos HEX|inherit          (00-ff, hex as ip tunnel reads it; default inherit as VyOS 1.2)
/// set interfaces tunnel tunN parameters ip key|ikey|okey K           (K = 0-4294967295 or A.B.C.D; gre only)
/// set interfaces tunnel tunN parameters ip checksum|input-checksum|output-checksum
///                                           |sequence|input-sequence|output-sequence   (gre only)
/// set interfaces tunnel tunN parameters ip pmtu-discovery enable|disable   (disable needs ttl inherit)
/// set interfaces tunnel tunN parameters keepalive INTERVAL RETRIES  (Cisco-style GRE keepalive: 1-32767 s, 1-255; gre only)
/// set protocols static route P/L next-hop A [distance 1-255]       (equal lowest distances: ECMP)
/// set protocols static route P/L blackhole [distance 1-255]
/// set protocols static interface-route P/L next-hop-interface IF [distance 1-255]
/// set system ...                                                   accepted, ignored, logged
/// set fasttun interface NAME driver af_xdp|af_packet              (default af_packet)
/// set fasttun interface NAME queues 1-64                           (default 1)
/// set fasttun workers 1-1024                                       (default: one per port queue)
/// set fasttun control-socket PATH
/// set fasttun rp-filter strict|loose|off                            (default loose, as systemd ships rp_filter=2)
/// set fasttun user NAME                                            (started as root: switch to NAME after setup)
/// set fasttun icmp-unreachable-for-unknown-tunnels enable|disable  (default enable: ICMP 3/3 as Linux)
/// set fasttun neighbor A.B.C.D mac XX:XX:XX:XX:XX:XX
/// set fasttun neighbor A.B.C.D interface NAME                      (default: the ethernet whose subnet holds A)
/// </code>
/// Blank lines and <c># comments</c> are skipped. Anything else is an error naming the line and its text.
/// </summary>
internal sealed partial class ConfigParser
{
    private readonly string _source;
    private readonly ILogger _logger;
    private readonly List<ConfigDiagnostic> _errors;
    private readonly ConfigDraft _draft = new();
    private int _line;
    private string _text = "";

    private ConfigParser(string source, ILogger logger, List<ConfigDiagnostic> errors)
    {
        _source = source;
        _logger = logger;
        _errors = errors;
    }

    public static ConfigDraft Parse(string text, string source, ILogger logger, List<ConfigDiagnostic> errors)
    {
        var parser = new ConfigParser(source, logger, errors);
        var words = new List<string>();
        using var reader = new StringReader(text);
        string? line;
        int number = 0;
        while ((line = reader.ReadLine()) != null)
        {
            number++;
            parser.ApplyLine(line, number, words);
        }
        return parser._draft;
    }

    /// <summary>For the other front ends (config.boot, iproute2): they feed their statements as set-line words.</summary>
    internal static ConfigParser Create(string source, ILogger logger, List<ConfigDiagnostic> errors) => new(source, logger, errors);

    internal ConfigDraft Draft => _draft;

    /// <summary>Tokenizes and applies one set line.</summary>
    internal void ApplyLine(string line, int number, List<string> words)
    {
        _line = number;
        _text = line.Trim();
        if (!ConfigTokenizer.TryTokenize(line, words, out string? error))
        {
            Error($"{error}: {_text}");
            return;
        }
        if (words.Count == 0) return;
        Statement(words);
    }

    /// <summary>Applies a statement already split into words (starting with <c>set</c>); <paramref name="text"/>
    /// is what error messages quote.</summary>
    internal void Apply(List<string> words, int line, string text)
    {
        _line = line;
        _text = text;
        Statement(words);
    }

    private void Statement(List<string> w)
    {
        if (w[0] != "set")
        {
            Error($"expected a 'set' command: {_text}");
            return;
        }
        string root = At(w, 1);
        switch (root)
        {
            case "interfaces" when At(w, 2) == "ethernet" && w.Count >= 4: Ethernet(w); break;
            case "interfaces" when At(w, 2) == "tunnel" && w.Count >= 4: Tunnel(w); break;
            case "interfaces" when At(w, 2) == "loopback" && w.Count == 4 && w[3] == "lo":
                Ignore("the loopback needs no configuration in FastTun");
                break;
            case "protocols" when At(w, 2) == "static" && At(w, 3) == "route" && w.Count >= 5: Route(w); break;
            case "protocols" when At(w, 2) == "static" && At(w, 3) == "interface-route" && w.Count >= 5: InterfaceRoute(w); break;
            case "system" when w.Count >= 3: Ignore("system settings do not apply to FastTun"); break;
            case "fasttun" when w.Count >= 3: FastTun(w); break;
            default: Unknown(); break;
        }
    }

    private void Ethernet(List<string> w)
    {
        string name = w[3];
        if (!IsInterfaceName(name))
        {
            Error($"'{name}' is not a valid interface name (1-15 characters of A-Z a-z 0-9 . _ -): {_text}");
            return;
        }
        var eth = _draft.Ethernet(name, _line);
        if (w.Count == 4) return;
        switch (w[4])
        {
            case "address" when w.Count == 6:
                if (TryInterfaceAddress(w[5], out var address) && !eth.Addresses.Exists(a => a.Address == address))
                    eth.Addresses.Add((address, _line));
                break;
            case "address" when w.Count == 8 && w[6] == "peer":
                if (TryPeerAddress(w[5], w[7], out var peered) && !eth.Addresses.Exists(a => a.Address == peered))
                    eth.Addresses.Add((peered, _line));
                break;
            case "description" when w.Count == 6:
                if (IsDescription(w[5])) Set(ref eth.Description, w[5], w[5], $"ethernet {name} description");
                break;
            case "hw-id" when w.Count == 6:
                if (TryMac(w[5], out ulong mac)) Set(ref eth.HwId, mac, w[5], $"ethernet {name} hw-id");
                else Error($"hw-id '{w[5]}' is not a MAC address (xx:xx:xx:xx:xx:xx): {_text}");
                break;
            case "mtu" when w.Count == 6:
                if (TryInt(w[5], 68, 65535, "mtu", out int mtu)) Set(ref eth.Mtu, mtu, w[5], $"ethernet {name} mtu");
                break;
            case "duplex" or "speed" or "smp-affinity" when w.Count == 6:
                Ignore($"link {w[4]} is left to the kernel driver");
                break;
            default: Unknown(); break;
        }
    }

    private void Tunnel(List<string> w)
    {
        string name = w[3];
        if (!IsInterfaceName(name))
        {
            Error($"'{name}' is not a valid tunnel name (VyOS names them tunN; 1-15 characters of A-Z a-z 0-9 . _ -): {_text}");
            return;
        }
        var tun = _draft.Tunnel(name, _line);
        string what = $"tunnel {name}";
        if (w.Count == 4) return;
        if (w[4] == "parameters")
        {
            if (At(w, 5) == "ip" && w.Count >= 7) TunnelParameter(tun, w);
            else if (At(w, 5) == "keepalive") TunnelKeepalive(tun, w);
            else Unknown();
            return;
        }
        if (w.Count == 8 && w[4] == "address" && w[6] == "peer")
        {
            if (TryPeerAddress(w[5], w[7], out var peered) && !tun.Addresses.Exists(a => a.Address == peered))
                tun.Addresses.Add((peered, _line));
            return;
        }
        if (w.Count != 6)
        {
            Unknown();
            return;
        }
        string v = w[5];
        switch (w[4])
        {
            case "address":
                if (TryInterfaceAddress(v, out var address) && !tun.Addresses.Exists(a => a.Address == address))
                    tun.Addresses.Add((address, _line));
                break;
            case "encapsulation":
                if (v == "ipip") Set(ref tun.Encapsulation, TunnelMode.Ipip, v, $"{what} encapsulation (one encapsulation per tunnel)");
                else if (v == "gre") Set(ref tun.Encapsulation, TunnelMode.Gre, v, $"{what} encapsulation (one encapsulation per tunnel)");
                else
                {
                    tun.EncapsulationRejected = true;
                    Error($"encapsulation '{v}' is not supported (FastTun supports ipip and gre): {_text}");
                }
                break;
            case "local-ip":
                if (TryAddress(v, "local-ip", out uint local)) Set(ref tun.Local, local, v, $"{what} local-ip");
                break;
            case "remote-ip":
                if (TryAddress(v, "remote-ip", out uint remote)) Set(ref tun.Remote, remote, v, $"{what} remote-ip");
                break;
            case "mtu":
                if (TryInt(v, 68, 65535, "mtu", out int mtu)) Set(ref tun.Mtu, mtu, v, $"{what} mtu");
                break;
            case "multicast":
                if (v is "enable" or "disable") Set(ref tun.Multicast, v == "enable", v, $"{what} multicast");
                else Error($"multicast must be 'enable' or 'disable', not '{v}': {_text}");
                break;
            case "description":
                if (IsDescription(v)) Set(ref tun.Description, v, v, $"{what} description");
                break;
            default: Unknown(); break;
        }
    }

    private void TunnelParameter(TunnelDraft tun, List<string> w)
    {
        string what = $"tunnel {tun.Name} parameters ip {w[6]}";
        if (w.Count == 7)
        {
            switch (w[6])
            {
                case "checksum": Set(ref tun.Checksum, true, "", what); return;
                case "input-checksum": Set(ref tun.InputChecksum, true, "", what); return;
                case "output-checksum": Set(ref tun.OutputChecksum, true, "", what); return;
                case "sequence": Set(ref tun.Sequence, true, "", what); return;
                case "input-sequence": Set(ref tun.InputSequence, true, "", what); return;
                case "output-sequence": Set(ref tun.OutputSequence, true, "", what); return;
                default: Unknown(); return;
            }
        }
        if (w.Count != 8)
        {
            Unknown();
            return;
        }
        string v = w[7];
        switch (w[6])
        {
            case "ttl":
                if (v == "inherit") Set(ref tun.Ttl, (byte)0, v, what);
                else if (TryInt(v, 0, 255, "ttl", out int ttl)) Set(ref tun.Ttl, (byte)ttl, v, what);
                break;
            case "tos":
                if (v == "inherit") Set(ref tun.Tos, TunnelTos.Inherited, v, what);
                else if (v.Length is 1 or 2 && byte.TryParse(v, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte tos))
                    Set(ref tun.Tos, TunnelTos.Fixed(tos), v, what);
                else Error($"tos must be 'inherit' or 00-ff (hexadecimal, as ip tunnel reads it), not '{v}': {_text}");
                break;
            case "key" or "ikey" or "okey":
                if (!TryKey(v, out uint key)) Error($"{w[6]} must be 0-4294967295 or a dotted quad, not '{v}': {_text}");
                else if (w[6] == "key") Set(ref tun.Key, key, v, what);
                else if (w[6] == "ikey") Set(ref tun.InputKey, key, v, what);
                else Set(ref tun.OutputKey, key, v, what);
                break;
            case "pmtu-discovery":
                if (v is "enable" or "disable") Set(ref tun.PathMtuDiscovery, v == "enable", v, what);
                else Error($"pmtu-discovery must be 'enable' or 'disable', not '{v}': {_text}");
                break;
            default: Unknown(); break;
        }
    }

    private void FastTun(List<string> w)
    {
        switch (w[2])
        {
            case "workers" when w.Count == 4:
                if (TryInt(w[3], 1, 1024, "workers", out int workers)) Set(ref _draft.Workers, workers, w[3], "fasttun workers");
                break;
            case "control-socket" when w.Count == 4:
                Set(ref _draft.ControlSocket, w[3], w[3], "fasttun control-socket");
                break;
            case "rp-filter" when w.Count == 4:
                if (w[3] is "strict" or "loose" or "off")
                    Set(ref _draft.RpFilter, w[3] == "strict" ? Packets.Datapath.RpFilterMode.Strict : w[3] == "loose" ? Packets.Datapath.RpFilterMode.Loose : Packets.Datapath.RpFilterMode.Off, w[3], "fasttun rp-filter");
                else Error($"rp-filter must be 'strict', 'loose' or 'off', not '{w[3]}': {_text}");
                break;
            case "user" when w.Count == 4:
                Set(ref _draft.User, w[3], w[3], "fasttun user");
                break;
            case "icmp-unreachable-for-unknown-tunnels" when w.Count == 4:
                if (w[3] is "enable" or "disable")
                    Set(ref _draft.UnknownTunnelUnreachable, w[3] == "enable", w[3], "fasttun icmp-unreachable-for-unknown-tunnels");
                else Error($"icmp-unreachable-for-unknown-tunnels must be 'enable' or 'disable', not '{w[3]}': {_text}");
                break;
            case "interface" when w.Count == 6 && IsInterfaceName(w[3]):
                var port = _draft.Port(w[3], _line);
                if (w[4] == "driver")
                {
                    if (w[5] == "af_xdp") Set(ref port.Driver, PortDriver.AfXdp, w[5], $"fasttun interface {w[3]} driver");
                    else if (w[5] == "af_packet") Set(ref port.Driver, PortDriver.AfPacket, w[5], $"fasttun interface {w[3]} driver");
                    else Error($"driver must be 'af_xdp' or 'af_packet', not '{w[5]}': {_text}");
                }
                else if (w[4] == "queues")
                {
                    if (TryInt(w[5], 1, 64, "queues", out int queues)) Set(ref port.Queues, queues, w[5], $"fasttun interface {w[3]} queues");
                }
                else Unknown();
                break;
            case "neighbor" when w.Count == 6:
                if (!TryAddress(w[3], "neighbor", out uint address)) return;
                var neighbor = _draft.Neighbor(address, _line);
                if (w[4] == "mac")
                {
                    if (TryMac(w[5], out ulong mac)) Set(ref neighbor.Mac, mac, w[5], $"fasttun neighbor {w[3]} mac");
                    else Error($"'{w[5]}' is not a MAC address (xx:xx:xx:xx:xx:xx): {_text}");
                }
                else if (w[4] == "interface" && IsInterfaceName(w[5])) Set(ref neighbor.Interface, w[5], w[5], $"fasttun neighbor {w[3]} interface");
                else Unknown();
                break;
            default: Unknown(); break;
        }
    }

    private void Set<T>(ref Leaf<T> leaf, T value, string text, string what)
    {
        if (leaf.IsSet)
        {
            if (!EqualityComparer<T>.Default.Equals(leaf.Value, value))
                Error($"conflicting values for {what}: '{text}' here, '{leaf.Text}' at line {leaf.Line}: {_text}");
            return;
        }
        leaf = new Leaf<T> { Value = value, Text = text, Line = _line, IsSet = true };
    }

    private bool TryInterfaceAddress(string text, out InterfaceAddress address)
    {
        address = default;
        if (!ConfigIpv4.TryParsePrefix(text, out uint a, out int length))
        {
            string hint = text is "dhcp" or "dhcpv6" || text.Contains(':') ? " (FastTun supports static IPv4 addresses only)" : "";
            Error($"'{text}' is not an IPv4 address with prefix length A.B.C.D/0-32{hint}: {_text}");
            return false;
        }
        address = new InterfaceAddress(a, length);
        return true;
    }

    /// <summary><c>address A peer P[/L]</c> (FastTun, after iproute2's <c>ip addr add A peer P</c>): A stands alone
    /// (written A or A/32), and the connected subnet is P/L (L 32 when left out).</summary>
    private bool TryPeerAddress(string local, string peer, out InterfaceAddress address)
    {
        address = default;
        string own = local.EndsWith("/32", StringComparison.Ordinal) ? local[..^3] : local;
        if (!Ipv4Address.TryParse(own, out uint a))
        {
            Error($"'{local}' is not an IPv4 address (A.B.C.D, or A.B.C.D/32 with a peer): {_text}");
            return false;
        }
        uint p;
        int length = 32;
        if (!(peer.Contains('/') ? ConfigIpv4.TryParsePrefix(peer, out p, out length) : Ipv4Address.TryParse(peer, out p)) || p == 0)
        {
            Error($"peer '{peer}' is not an IPv4 address A.B.C.D[/0-32]: {_text}");
            return false;
        }
        address = new InterfaceAddress(a, length, p);
        return true;
    }

    private bool TryAddress(string text, string what, out uint address)
    {
        if (Ipv4Address.TryParse(text, out address)) return true;
        Error($"{what} '{text}' is not an IPv4 address: {_text}");
        return false;
    }

    private bool TryInt(string text, int min, int max, string what, out int value)
    {
        if (text.Length is > 0 and <= 10 && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= min && value <= max)
            return true;
        value = 0;
        Error($"{what} must be a number from {min} to {max}, not '{text}': {_text}");
        return false;
    }

    /// <summary>A GRE key as ip tunnel takes it: a decimal number or a dotted quad (which is the key's wire bytes).</summary>
    internal static bool TryKey(string text, out uint key) =>
        Ipv4Address.TryParse(text, out key) ||
        (text.Length is > 0 and <= 10 && uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out key));

    internal static bool TryMac(string text, out ulong mac)
    {
        mac = 0;
        if (text.Length != 17) return false;
        for (int i = 0; i < 6; i++)
        {
            if (i > 0 && text[i * 3 - 1] != ':') return false;
            if (!byte.TryParse(text.AsSpan(i * 3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b)) return false;
            mac = (mac << 8) | b;
        }
        return true;
    }

    internal static bool IsInterfaceName(string name) =>
        name.Length is > 0 and <= 15 && name != "." && name != ".." &&
        name.All(c => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '_' or '-');

    /// <summary>VyOS limits descriptions to 1-256 characters.</summary>
    private bool IsDescription(string text)
    {
        if (text.Length is > 0 and <= 256) return true;
        Error($"description must be 1 to 256 characters, not {text.Length}: {_text}");
        return false;
    }

    private void Ignore(string why)
    {
        _draft.IgnoredLines++;
        _logger.LogInformation("{Source}:{Line}: ignored, {Why}: {Text}", _source, _line, why, _text);
    }

    private void Unknown() => Error($"unknown or unsupported configuration line: {_text}");

    private void Error(string message) => _errors.Add(new ConfigDiagnostic(_source, _line, message));

    internal void Error(int line, string message) => _errors.Add(new ConfigDiagnostic(_source, line, message));

    internal void Info(int line, string why, string text)
    {
        _draft.IgnoredLines++;
        _logger.LogInformation("{Source}:{Line}: ignored, {Why}: {Text}", _source, line, why, text);
    }

    private static string At(List<string> w, int i) => i < w.Count ? w[i] : "";
}
