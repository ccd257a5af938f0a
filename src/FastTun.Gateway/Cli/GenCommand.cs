using System.Globalization;
using System.Runtime.InteropServices;
using FastTun.Traffic;
using FastTun.Linux.Interop;
using FastTun.Linux.Netlink;
using FastTun.Linux.Ports;
using FastTun.Packets.Tunnels;

namespace FastTun.Gateway.Cli;

/// <summary>
/// <c>fasttun gen</c>: UDP/IPv4 traffic with sequence numbers and timestamps, at a paced rate or as fast as
/// the port takes it, for a bounded duration; optionally inside IPIP, GRE or VXLAN. Prints a summary (or JSON).
/// </summary>
public static class GenCommand
{
    public const string UsageText = """
        Usage: fasttun gen --iface X --dst IP[:PORT] [--src IP] [--via IP] [--dst-mac MAC] [--src-mac MAC]
                           [--size 64..9000] [--rate PPS|max] [--flows N] [--duration S] [--batch N]
                           [--driver af_xdp|af_packet] [--queue Q] [--json]
                           [--encap ipip|gre|vxlan --outer-src A --outer-dst B [--key K] [--csum] [--seq]
                            [--vni N] [--inner-dst-mac MAC]]

        """;

    public static int Run(ReadOnlySpan<string> args)
    {
        string? iface = null;
        uint dst = 0, src = 0, via = 0, outerSrc = 0, outerDst = 0;
        ushort dstPort = 9;
        byte[]? dstMac = null, srcMac = null, innerDstMac = null;
        int size = 64, flows = 1, queue = 0, batch = 64;
        uint vni = 42;
        uint? key = null;
        bool csum = false, seq = false, json = false;
        double rate = 0;
        var duration = TimeSpan.FromSeconds(5);
        var driver = TrafficDriver.AfXdp;
        var encap = TrafficEncap.None;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string? v = i + 1 < args.Length ? args[i + 1] : null;
            bool ok = true;
            switch (a)
            {
                case "--iface" when v is not null: iface = v; i++; break;
                case "--dst" when v is not null: ok = TrafficArgs.TryEndpoint(v, out dst, out ushort? p); if (p is ushort pp) dstPort = pp; i++; break;
                case "--src" when v is not null: ok = TrafficArgs.TryEndpoint(v, out src, out _); i++; break;
                case "--via" when v is not null: ok = TrafficArgs.TryEndpoint(v, out via, out _); i++; break;
                case "--dst-mac" when v is not null: ok = TrafficArgs.TryMac(v, out var m1); dstMac = m1; i++; break;
                case "--src-mac" when v is not null: ok = TrafficArgs.TryMac(v, out var m2); srcMac = m2; i++; break;
                case "--inner-dst-mac" when v is not null: ok = TrafficArgs.TryMac(v, out var m3); innerDstMac = m3; i++; break;
                case "--size" when v is not null: ok = TrafficArgs.TryInt(v, TrafficSpec.MinSize, TrafficSpec.MaxSize, out size); i++; break;
                case "--rate" when v is not null: ok = TrafficArgs.TryRate(v, out rate); i++; break;
                case "--flows" when v is not null: ok = TrafficArgs.TryInt(v, 1, 65536, out flows); i++; break;
                case "--duration" when v is not null: ok = TrafficArgs.TrySeconds(v, out duration); i++; break;
                case "--batch" when v is not null: ok = TrafficArgs.TryInt(v, 1, 256, out batch); i++; break;
                case "--queue" when v is not null: ok = TrafficArgs.TryInt(v, 0, 1023, out queue); i++; break;
                case "--driver" when v is not null: ok = TrafficPorts.TryParseDriver(v, out driver); i++; break;
                case "--encap" when v is not null:
                    ok = TryEncap(v, out encap); i++; break;
                case "--outer-src" when v is not null: ok = TrafficArgs.TryEndpoint(v, out outerSrc, out _); i++; break;
                case "--outer-dst" when v is not null: ok = TrafficArgs.TryEndpoint(v, out outerDst, out _); i++; break;
                case "--key" when v is not null: ok = uint.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out uint k); key = k; i++; break;
                case "--vni" when v is not null: ok = TrafficArgs.TryInt(v, 0, 0xFFFFFF, out int n); vni = (uint)n; i++; break;
                case "--csum": csum = true; break;
                case "--seq": seq = true; break;
                case "--json": json = true; break;
                case "-h" or "--help": Console.Out.Write(UsageText); return CommandLine.ExitOk;
                default: return Usage($"unknown or incomplete argument '{a}'");
            }
            if (!ok) return Usage($"bad value '{v}' for {a}");
        }
        if (iface is null) return Usage("missing --iface");
        if (dst == 0) return Usage("missing --dst");
        if (encap != TrafficEncap.None && (outerSrc == 0 || outerDst == 0)) return Usage("--encap needs --outer-src and --outer-dst");
        if (encap != TrafficEncap.Gre && (key.HasValue || csum || seq)) return Usage("--key, --csum and --seq are GRE options");
        if (Libc.geteuid() != 0) return Fail("fasttun gen needs root (raw sockets, XDP)");

        TunnelSettings? tunnel = null;
        if (encap is TrafficEncap.Ipip or TrafficEncap.Gre)
        {
            // Outer TTL 64 like a freshly sent packet; DF set (PMTU discovery on), as Linux sends them.
            tunnel = new TunnelSettings("gen", encap == TrafficEncap.Gre ? TunnelMode.Gre : TunnelMode.Ipip, outerSrc, outerDst,
                ttl: 64, key: key, checksum: csum, sequence: seq);
        }

        PacketPort port;
        NetInterface nic;
        try
        {
            nic = NetInterface.Get(iface);
            int wire = size + (encap switch { TrafficEncap.None => 0, TrafficEncap.Vxlan => TrafficSpec.VxlanOverhead, _ => tunnel!.Overhead });
            if (wire - 14 > nic.Mtu) return Fail($"{wire}-byte frames do not fit the MTU {nic.Mtu} of {iface}");
            port = TrafficPorts.Open(iface, driver, queue, wire, forReceive: false);
        }
        catch (Exception e) when (e is LinuxException or NetInterfaceException or DllNotFoundException or IOException or ArgumentException)
        {
            return Fail($"cannot open {iface}: {e.Message}");
        }

        using (port)
        {
            srcMac ??= nic.Mac;
            if (src == 0)
            {
                var own = nic.GetIpv4Addresses();
                if (own.Count == 0) return Fail($"{iface} has no IPv4 address: give --src");
                src = own[0].Address;
            }
            uint l3Src = encap == TrafficEncap.None ? src : outerSrc;
            if (dstMac is null)
            {
                uint target = via != 0 ? via : encap == TrafficEncap.None ? dst : outerDst;
                dstMac = TrafficArp.Resolve(port, srcMac, l3Src, target);
                if (dstMac is null) return Fail($"no ARP reply from {FastTun.Packets.Headers.Ipv4Address.Format(target)} on {iface}: give --dst-mac");
                Console.Error.WriteLine($"gen: {FastTun.Packets.Headers.Ipv4Address.Format(target)} is at {TrafficArgs.FormatMac(dstMac)}");
            }
            var spec = new TrafficSpec
            {
                SourceMac = srcMac,
                DestinationMac = dstMac,
                Source = src,
                Destination = dst,
                DestinationPort = dstPort,
                Size = size,
                Flows = flows,
                Encap = encap,
                Tunnel = tunnel,
                OuterSource = outerSrc,
                OuterDestination = outerDst,
                Vni = vni,
                InnerDestinationMac = innerDstMac,
            };
            using var frames = new TrafficFrames(spec, batch);
            var generator = new TrafficGenerator(port, frames);
            int stopRequested = 0;
            // Volatile.Write in the handlers (signal thread) pairs with the Volatile.Read in the loop's stop check.
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; Volatile.Write(ref stopRequested, 1); });
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; Volatile.Write(ref stopRequested, 1); });
            // Scripts that sample CPU counters around the run wait for this line (startup excluded).
            Console.Error.WriteLine($"gen: sending on {iface} for {duration.TotalSeconds:0.###} s");
            // Volatile: pairs with the signal handlers' writes above; read once per 64 batches.
            var result = generator.Run(rate, duration, () => Volatile.Read(ref stopRequested) != 0);
            string drv = TrafficPorts.Name(driver);
            Console.Out.Write(json ? TrafficReport.GenJson(result, iface, drv, spec, rate) + "\n" : TrafficReport.GenText(result, iface, drv, spec));
        }
        return CommandLine.ExitOk;
    }

    private static bool TryEncap(string text, out TrafficEncap encap)
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

    private static int Usage(string message) => CliErrors.Usage("gen", message, UsageText);

    private static int Fail(string message) => CliErrors.Fail("gen", message);
}
