using System.Runtime.InteropServices;

namespace FastTun.Linux.Interop;

internal static partial class FastTunXdp
{
    /// <summary>The traffic generator's XDP program (native/xdp_gen.bpf.c), loaded by fasttun_gen_live.</summary>
    public const string GeneratorProgramFile = "xdp_gen.bpf.o";

    /// <summary>Same layout as struct fasttun_gen_cfg (native/fasttun_gen.c).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct GenConfig
    {
        /// <summary>Bytes of the template the program writes back into every frame (GEN_HEAD_WORDS * 8).</summary>
        public const int HeadBytes = 128;

        public uint UdpOffset;
        public uint Flows;
        public uint PortBase;
        public uint BaseSum;
        public ulong RatePps;
        public fixed byte Head[HeadBytes];
    }

    /// <summary>Same layout as struct fasttun_gen_result (native/fasttun_gen.c).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct GenResult
    {
        public ulong Frames;
        public ulong Calls;
        public ulong Nanoseconds;
        public long LastError;
    }

    /// <summary>Sends copies of <paramref name="frame"/> out of <paramref name="ifindex"/> from inside the kernel
    /// (BPF_PROG_RUN, live frames) for <paramref name="durationNs"/> or until *stop is non-zero. 0 or -errno.</summary>
    [LibraryImport(Name, EntryPoint = "fasttun_gen_live", StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int fasttun_gen_live(string objPath, int ifindex, byte* frame, uint frameLength,
        GenConfig* config, uint batch, uint chunk, ulong durationNs, int* stop, GenResult* result);

    /// <summary>Ends a running fasttun_gen_live call now (signals its thread); 0 when none runs.</summary>
    [LibraryImport(Name, EntryPoint = "fasttun_gen_interrupt")]
    public static partial int fasttun_gen_interrupt();

    /// <summary>Runs the generator program <paramref name="runs"/> times in the ordinary test mode (nothing sent)
    /// and copies the last output frame: the XDP action (XDP_TX = 3) or -errno. For tests.</summary>
    [LibraryImport(Name, EntryPoint = "fasttun_gen_test", StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int fasttun_gen_test(string objPath, byte* frame, uint frameLength, GenConfig* config, uint runs, byte* frameOut);
}
