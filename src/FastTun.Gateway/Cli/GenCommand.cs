using System.CommandLine;
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
    public static Command Build()
    {
        var o = new GenOptions();
        var iface = new Option<string>("--iface") { Description = "interface to send on", HelpName = "NAME", Required = true };
        var size = GenOptions.Size();
        var rate = CliOptions.Validated("--rate", "packets per second (k/M suffix) or max", "PPS|max", TrafficArgs.TryRate,
            "a rate > 0 (k or M suffix) or max", 0.0);
        var duration = CliOptions.Seconds("--duration", "how long to send", TimeSpan.FromSeconds(5));
        var driver = CliOptions.Completing(CliOptions.Validated("--driver",
            "af_xdp, af_packet, or xdp_live (frames made and sent inside the kernel by BPF_PROG_RUN: several Mpps on one " +
            "core, needs --dst-mac and a receiver with NAPI: an XDP program or GRO on the peer)",
            "af_xdp|af_packet|xdp_live", TrafficPorts.TryParseGenDriver, "af_xdp, af_packet or xdp_live", TrafficDriver.AfXdp),
            "af_xdp", "af_packet", "xdp_live");
        var json = CliOptions.Json("print the summary as JSON");
        var command = new Command("gen", "UDP test traffic with sequence numbers and timestamps over af_xdp or af_packet, " +
            "optionally inside IPIP, GRE or VXLAN, for a bounded duration; prints a summary") { iface, size, rate, duration, driver, json };
        o.AddTo(command, dstRequired: true);
        command.SetAction(r =>
        {
            var dst = r.GetValue(o.Dst)!.Value;
            return Run(new GenSettings
            {
                Iface = r.GetValue(iface)!,
                Dst = dst.Address,
                DstPort = dst.Port ?? 9,
                Src = r.GetValue(o.Src)?.Address ?? 0,
                Via = r.GetValue(o.Via)?.Address ?? 0,
                OuterSrc = r.GetValue(o.OuterSrc)?.Address ?? 0,
                OuterDst = r.GetValue(o.OuterDst)?.Address ?? 0,
                DstMac = GenOptions.MacBytes(r.GetValue(o.DstMac)),
                SrcMac = GenOptions.MacBytes(r.GetValue(o.SrcMac)),
                InnerDstMac = GenOptions.MacBytes(r.GetValue(o.InnerDstMac)),
                Size = r.GetValue(size),
                Flows = r.GetValue(o.Flows),
                Queue = r.GetValue(o.Queue),
                Batch = r.GetValue(o.Batch),
                Vni = (uint)r.GetValue(o.Vni),
                Key = r.GetValue(o.Key),
                Csum = r.GetValue(o.Csum),
                Seq = r.GetValue(o.Seq),
                Json = r.GetValue(json),
                Rate = r.GetValue(rate),
                Duration = r.GetValue(duration),
                Driver = r.GetValue(driver),
                Encap = r.GetValue(o.Encap),
            });
        });
        return command;
    }

    /// <summary>What gen was asked to do, validated by the parser.</summary>
    public sealed class GenSettings
    {
        public required string Iface { get; init; }
        public uint Dst { get; init; }
        public ushort DstPort { get; init; } = 9;
        public uint Src { get; init; }
        public uint Via { get; init; }
        public uint OuterSrc { get; init; }
        public uint OuterDst { get; init; }
        public byte[]? DstMac { get; init; }
        public byte[]? SrcMac { get; init; }
        public byte[]? InnerDstMac { get; init; }
        public int Size { get; init; } = 64;
        public int Flows { get; init; } = 1;
        public int Queue { get; init; }
        public int Batch { get; init; } = 64;
        public uint Vni { get; init; } = 42;
        public uint? Key { get; init; }
        public bool Csum { get; init; }
        public bool Seq { get; init; }
        public bool Json { get; init; }
        public double Rate { get; init; }
        public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(5);
        public TrafficDriver Driver { get; init; } = TrafficDriver.AfXdp;
        public TrafficEncap Encap { get; init; } = TrafficEncap.None;
    }

    public static int Run(GenSettings g)
    {
        string iface = g.Iface;
        uint dst = g.Dst, src = g.Src, via = g.Via, outerSrc = g.OuterSrc, outerDst = g.OuterDst;
        byte[]? dstMac = g.DstMac, srcMac = g.SrcMac;
        int size = g.Size, queue = g.Queue, batch = g.Batch;
        uint? key = g.Key;
        bool csum = g.Csum, seq = g.Seq, json = g.Json;
        double rate = g.Rate;
        var duration = g.Duration;
        var driver = g.Driver;
        var encap = g.Encap;
        if (CommandCapabilities.Check("gen") is { } missing)
        {
            Console.Error.WriteLine(missing);
            return CommandLine.ExitError;
        }

        TunnelSettings? tunnel = null;
        if (encap is TrafficEncap.Ipip or TrafficEncap.Gre)
        {
            // Outer TTL 64 like a freshly sent packet; DF set (PMTU discovery on), as Linux sends them.
            tunnel = new TunnelSettings("gen", encap == TrafficEncap.Gre ? TunnelMode.Gre : TunnelMode.Ipip, outerSrc, outerDst,
                ttl: 64, key: key, checksum: csum, sequence: seq);
        }

        if (driver == TrafficDriver.XdpLive) return RunLive(g, tunnel);

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
            src = SourceOf(g, nic);
            if (src == 0) return Fail($"{iface} has no IPv4 address: give --src");
            uint l3Src = encap == TrafficEncap.None ? src : outerSrc;
            if (dstMac is null)
            {
                uint target = via != 0 ? via : encap == TrafficEncap.None ? dst : outerDst;
                dstMac = TrafficArp.Resolve(port, srcMac, l3Src, target);
                if (dstMac is null) return Fail($"no ARP reply from {FastTun.Packets.Headers.Ipv4Address.Format(target)} on {iface}: give --dst-mac");
                Console.Error.WriteLine($"gen: {FastTun.Packets.Headers.Ipv4Address.Format(target)} is at {TrafficArgs.FormatMac(dstMac)}");
            }
            var spec = SpecOf(g, tunnel, srcMac, dstMac, src);
            using var frames = new TrafficFrames(spec, batch);
            var generator = new TrafficGenerator(port, frames);
            int stopRequested = 0;
            // Volatile.Write in the handler (signal thread) pairs with the Volatile.Read in the loop's stop check.
            using var signals = CommandSignals.Register(() => Volatile.Write(ref stopRequested, 1));
            // Scripts that sample CPU counters around the run wait for this line (startup excluded).
            Console.Error.WriteLine($"gen: sending on {iface} for {duration.TotalSeconds:0.###} s");
            // Volatile: pairs with the signal handlers' writes above; read once per 64 batches.
            var result = generator.Run(rate, duration, () => Volatile.Read(ref stopRequested) != 0);
            string drv = TrafficPorts.Name(driver);
            Console.Out.Write(json ? TrafficReport.GenJson(result, iface, drv, spec, rate) + "\n" : TrafficReport.GenText(result, iface, drv, spec));
        }
        return CommandLine.ExitOk;
    }

    /// <summary>gen --driver xdp_live: the template frame goes to the kernel once; the kernel makes and sends
    /// every frame (XdpLiveGenerator). No port is opened, so no ARP: the destination MAC must be given.</summary>
    private static unsafe int RunLive(GenSettings g, TunnelSettings? tunnel)
    {
        if (g.DstMac is null) return Fail("xdp_live resolves no neighbour: give --dst-mac");
        NetInterface nic;
        try
        {
            nic = NetInterface.Get(g.Iface);
            NetInterface.SetUp(g.Iface);
        }
        catch (Exception e) when (e is LinuxException or NetInterfaceException)
        {
            return Fail($"cannot use {g.Iface}: {e.Message}");
        }
        uint src = SourceOf(g, nic);
        if (src == 0) return Fail($"{g.Iface} has no IPv4 address: give --src");
        var spec = SpecOf(g, tunnel, g.SrcMac ?? nic.Mac, g.DstMac, src);
        if (spec.WireSize - 14 > nic.Mtu) return Fail($"{spec.WireSize}-byte frames do not fit the MTU {nic.Mtu} of {g.Iface}");
        if (!XdpLiveTemplate.Supports(spec)) return Fail("xdp_live cannot keep a GRE checksum (it covers the inner packet the kernel patches): drop --csum");
        if (g.Flows > XdpLiveTemplate.MaxFlows) return Fail($"xdp_live makes at most {XdpLiveTemplate.MaxFlows} flows");
        var template = XdpLiveTemplate.Build(spec);
        int* stop = (int*)NativeMemory.AllocZeroed(sizeof(int));
        try
        {
            nint stopAt = (nint)stop;
            using var signals = CommandSignals.Register(() => { Volatile.Write(ref *(int*)stopAt, 1); XdpLiveGenerator.Interrupt(); });
            Console.Error.WriteLine($"gen: sending on {g.Iface} for {g.Duration.TotalSeconds:0.###} s");
            GenResult result;
            try
            {
                result = XdpLiveGenerator.Run(nic.Index, template, g.Rate, g.Batch, g.Duration, stop);
            }
            catch (Exception e) when (e is LinuxException or FileNotFoundException or DllNotFoundException or EntryPointNotFoundException)
            {
                return Fail($"in-kernel generator on {g.Iface}: {e.Message} (needs kernel >= 5.18, root, make native)");
            }
            string drv = TrafficPorts.Name(TrafficDriver.XdpLive);
            Console.Out.Write(g.Json ? TrafficReport.GenJson(result, g.Iface, drv, spec, g.Rate) + "\n" : TrafficReport.GenText(result, g.Iface, drv, spec));
            return CommandLine.ExitOk;
        }
        finally
        {
            NativeMemory.Free(stop);
        }
    }

    /// <summary>--src, or the interface's first IPv4 address; 0 when neither is there.</summary>
    private static uint SourceOf(GenSettings g, NetInterface nic)
    {
        if (g.Src != 0) return g.Src;
        var own = nic.GetIpv4Addresses();
        return own.Count == 0 ? 0 : own[0].Address;
    }

    /// <summary>The frames both drivers send, from gen's settings and what the interface supplied (source MAC and
    /// address, the next hop's MAC).</summary>
    private static TrafficSpec SpecOf(GenSettings g, TunnelSettings? tunnel, byte[] sourceMac, byte[] destinationMac, uint source) => new()
    {
        SourceMac = sourceMac,
        DestinationMac = destinationMac,
        Source = source,
        Destination = g.Dst,
        DestinationPort = g.DstPort,
        Size = g.Size,
        Flows = g.Flows,
        Encap = g.Encap,
        Tunnel = tunnel,
        OuterSource = g.OuterSrc,
        OuterDestination = g.OuterDst,
        Vni = g.Vni,
        InnerDestinationMac = g.InnerDstMac,
    };

    private static int Fail(string message) => CliErrors.Fail("gen", message);
}
