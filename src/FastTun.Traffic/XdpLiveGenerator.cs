using System.Buffers.Binary;
using FastTun.Packets.Tunnels;
using FastTun.Linux.Interop;
using FastTun.Packets.Checksum;
using FastTun.Packets.Datapath;
using FastTun.Packets.Headers;

namespace FastTun.Traffic;

/// <summary>
/// The frame template and per-packet patch parameters of the in-kernel generator (native/xdp_gen.bpf.c).
/// <see cref="Frame"/> is what <see cref="TrafficFrames"/> makes for flow 0, sequence 0, timestamp 0 (IP ID 0,
/// the same in every copy); the program patches the UDP source port, the payload's flow, sequence and
/// timestamp, and the inner UDP checksum from <see cref="BaseSum"/>.
/// </summary>
public sealed class XdpLiveTemplate
{
    public required byte[] Frame { get; init; }
    /// <summary>Offset of the inner UDP header in <see cref="Frame"/>.</summary>
    public required int UdpOffset { get; init; }
    /// <summary>Folded one's-complement sum of the pseudo header and the UDP datagram with the source port, the
    /// checksum and the payload's flow, sequence and timestamp zero.</summary>
    public required ushort BaseSum { get; init; }
    public required int Flows { get; init; }
    public required ushort PortBase { get; init; }

    /// <summary>GRE's checksum covers the inner packet, which the program changes: not supported.</summary>
    public static bool Supports(TrafficSpec spec) => spec.Tunnel is not { Mode: TunnelMode.Gre, OutputChecksum: true };

    public static unsafe XdpLiveTemplate Build(TrafficSpec spec)
    {
        if (!Supports(spec)) throw new ArgumentException("the in-kernel generator cannot keep a GRE checksum (it covers the patched inner packet)", nameof(spec));
        if (spec.Flows > MaxFlows) throw new ArgumentOutOfRangeException(nameof(spec), spec.Flows, $"the in-kernel generator makes at most {MaxFlows} flows");
        using var frames = new TrafficFrames(spec, 1);
        Frame f = default;
        frames.Fill(0, 0, 0, 0, ref f);
        byte[] frame = new Span<byte>((byte*)f.Buffer + f.Offset, f.Length).ToArray();
        int ipLength = spec.Size - EthernetHeader.Length;
        int udpOffset = frame.Length - ipLength + Ipv4Header.MinLength;
        int udpLength = ipLength - Ipv4Header.MinLength;
        byte[] udp = frame.AsSpan(udpOffset, udpLength).ToArray();
        ClearPatched(udp);
        ushort baseSum = InternetChecksum.Fold(InternetChecksum.Sum(udp,
            UdpHeader.PseudoHeaderSum(spec.Source, spec.Destination, Ipv4Header.ProtocolUdp, udpLength)));
        return new XdpLiveTemplate { Frame = frame, UdpOffset = udpOffset, BaseSum = baseSum, Flows = spec.Flows, PortBase = spec.SourcePortBase };
    }

    /// <summary>Flows the program keeps a sequence counter for (GEN_MAX_FLOWS in xdp_gen.bpf.c).</summary>
    public const int MaxFlows = 4096;

    private static void ClearPatched(Span<byte> udp)
    {
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(UdpHeader.SourcePortOffset), 0);
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(UdpHeader.ChecksumOffset), 0);
        Span<byte> payload = udp.Slice(UdpHeader.Length);
        BinaryPrimitives.WriteUInt16BigEndian(payload.Slice(TrafficPayload.FlowOffset), 0);
        BinaryPrimitives.WriteUInt64BigEndian(payload.Slice(TrafficPayload.SequenceOffset), 0);
        BinaryPrimitives.WriteInt64BigEndian(payload.Slice(TrafficPayload.TimestampOffset), 0);
    }

    /// <summary>What the BPF program does to a copy of <see cref="Frame"/> (its managed mirror, for tests).</summary>
    public void Patch(Span<byte> frame, ushort flow, ulong sequence, long timestamp)
    {
        Span<byte> udp = frame.Slice(UdpOffset);
        ushort port = (ushort)(PortBase + flow);
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(UdpHeader.SourcePortOffset), port);
        Span<byte> payload = udp.Slice(UdpHeader.Length);
        BinaryPrimitives.WriteUInt16BigEndian(payload.Slice(TrafficPayload.FlowOffset), flow);
        uint sum = (uint)BaseSum + port + flow + TrafficPayload.Patch(payload, sequence, timestamp);
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        ushort checksum = (ushort)~sum;
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(UdpHeader.ChecksumOffset), checksum == 0 ? (ushort)0xFFFF : checksum);
    }
}

/// <summary>
/// `fasttun gen --driver xdp_live`: the frames are made and sent inside the kernel (BPF_PROG_RUN with live
/// frames, native/fasttun_gen.c), so one core offers several Mpps into a veth instead of the ~0.7 Mpps that the
/// AF_XDP copy-mode transmit path gives. Rate: as fast as the kernel runs, or paced inside the program. The receiver must have
/// NAPI (an XDP program attached, or GRO on) or the kernel drops every frame; frames its ring cannot take are
/// dropped, not retried, so <see cref="GenResult.Sent"/> is the offered load.
/// </summary>
public static class XdpLiveGenerator
{
    /// <summary>Frames one BPF_PROG_RUN call asks for: more than any run makes (minutes at several Mpps). The
    /// call ends at the deadline (a timer's signal) or on <see cref="Interrupt"/>: each call costs a page-pool
    /// setup and a teardown that waits for an RCU grace period (tens of ms), so the run is one call.</summary>
    private const uint Chunk = 1u << 31;

    /// <summary>Ends a running <see cref="Run"/> now (call from a signal handler after setting its stop flag).</summary>
    public static void Interrupt() => FastTunXdp.fasttun_gen_interrupt();

    /// <param name="rate">Frames per second (the program drops runs that are not yet due), or 0 for as fast as
    /// the kernel runs.</param>
    /// <summary>The program's output frame after <paramref name="runs"/> runs on copies of the template, nothing
    /// sent (BPF_PROG_RUN test mode; needs root): how tests compare the BPF code with <see cref="XdpLiveTemplate.Patch"/>.</summary>
    /// <param name="input">The frame fed to the program (default: the template itself); a receiver may have
    /// written into a recycled page, and the program must restore the template's headers.</param>
    public static unsafe byte[] TestRun(XdpLiveTemplate template, int runs, byte[]? input = null)
    {
        input ??= template.Frame;
        if (input.Length != template.Frame.Length) throw new ArgumentException("input must be as long as the template", nameof(input));
        string obj = FastTunXdp.FindAsset(FastTunXdp.GeneratorProgramFile)
            ?? throw new FileNotFoundException($"{FastTunXdp.GeneratorProgramFile} not found (make native)");
        var cfg = Config(template, 0);
        byte[] output = new byte[template.Frame.Length];
        int action;
        fixed (byte* frame = input)
        fixed (byte* outFrame = output)
        {
            action = FastTunXdp.fasttun_gen_test(obj, frame, (uint)template.Frame.Length, &cfg, (uint)runs, outFrame);
        }
        if (action < 0) throw new LinuxException("fasttun_gen_test", -action);
        if (action != XdpTx) throw new InvalidOperationException($"the generator program returned XDP action {action}, not XDP_TX");
        return output;
    }

    private const int XdpTx = 3;

    private static unsafe FastTunXdp.GenConfig Config(XdpLiveTemplate template, double rate)
    {
        var cfg = new FastTunXdp.GenConfig
        {
            UdpOffset = (uint)template.UdpOffset,
            Flows = (uint)template.Flows,
            PortBase = template.PortBase,
            BaseSum = template.BaseSum,
            RatePps = rate > 0 ? (ulong)Math.Max(1, Math.Round(rate)) : 0,
        };
        // Every header, restored in every frame (the kernel recycles pages a receiver may have written to).
        int n = Math.Min(template.Frame.Length, FastTunXdp.GenConfig.HeadBytes);
        template.Frame.AsSpan(0, n).CopyTo(new Span<byte>(cfg.Head, FastTunXdp.GenConfig.HeadBytes));
        return cfg;
    }

    public static unsafe GenResult Run(int ifindex, XdpLiveTemplate template, double rate, int batch, TimeSpan duration, int* stop)
    {
        string obj = FastTunXdp.FindAsset(FastTunXdp.GeneratorProgramFile)
            ?? throw new FileNotFoundException($"{FastTunXdp.GeneratorProgramFile} not found (make native)");
        var cfg = Config(template, rate);
        FastTunXdp.GenResult r;
        int err;
        fixed (byte* frame = template.Frame)
        {
            err = FastTunXdp.fasttun_gen_live(obj, ifindex, frame, (uint)template.Frame.Length, &cfg, (uint)Math.Clamp(batch, 1, 256),
                Chunk, (ulong)(duration.TotalSeconds * 1e9), stop, &r);
        }
        if (err < 0) throw new LinuxException("fasttun_gen_live", -err);
        double seconds = r.Nanoseconds / 1e9;
        return new GenResult((long)r.Frames, (long)r.Frames * template.Frame.Length, seconds, 0, (long)r.Calls, template.Flows);
    }
}
