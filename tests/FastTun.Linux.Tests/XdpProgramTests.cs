using FastTun.Linux.AfXdp;
using FastTun.Linux.Interop;
using FastTun.Linux.Tests.Net;
using FastTun.Packets.Datapath;

namespace FastTun.Linux.Tests;

/// <summary>
/// Lifetime of FastTun's XDP program on an interface: shared by the ports of one interface, detached by the
/// last one, a stale copy from a crashed run replaced on the next start, a foreign program left alone
/// unless forced. Each test checks the kernel's view twice: through bpf_xdp_query and `ip -d link show`.
/// </summary>
public sealed class XdpProgramTests
{
    [RootTheory]
    [InlineData(XdpAttachMode.Native)]
    [InlineData(XdpAttachMode.Generic)]
    public void Dispose_LastPortOfInterface_LeavesNoXdpProgram(XdpAttachMode mode)
    {
        using var veth = new VethPair(queues: 2);
        var options = AfXdpTestSupport.SmallRings(mode) with { MaxQueues = 2 };
        var port0 = new AfXdpPort(veth.A, 0, 0, options);
        var port1 = new AfXdpPort(veth.A, 1, 1, options);
        Assert.Equal(mode, XdpProgram.Query(veth.A));
        Assert.Contains("fasttun_redir", Shell.Ip($"-d link show {veth.A}"));
        port0.Dispose();
        Assert.Equal(mode, XdpProgram.Query(veth.A)); // still serving queue 1
        port1.Dispose();
        AfXdpTestSupport.AssertDetached(veth.A);
        Assert.DoesNotContain("prog/xdp", Shell.Ip($"-d link show {veth.A}"));
    }

    [RootTheory]
    [InlineData(XdpAttachMode.Generic, XdpAttachMode.Native)]
    [InlineData(XdpAttachMode.Native, XdpAttachMode.Generic)]
    [InlineData(XdpAttachMode.Native, XdpAttachMode.Native)]
    public unsafe void Constructor_StaleProgramFromCrashedRun_ReplacedAndPortWorks(XdpAttachMode crashed, XdpAttachMode next)
    {
        using var veth = new VethPair();
        int ifindex = (int)Libc.if_nametoindex(veth.A);
        // A "crashed run" of a gateway that attached through netlink (before bpf_link, or `ip link set xdp`):
        // the program stays attached with no owner. A bpf_link-attached one would have gone with its process.
        string obj = FastTunXdp.FindAsset(FastTunXdp.ProgramFile)!;
        Shell.Ip($"link set dev {veth.A} {(crashed == XdpAttachMode.Native ? "xdpdrv" : "xdpgeneric")} obj {obj} sec xdp");
        uint staleId = ProgramId(ifindex);
        Assert.Equal(crashed, XdpProgram.Query(veth.A));

        using (var port = new AfXdpPort(veth.A, 0, 4, AfXdpTestSupport.SmallRings(next)))
        {
            Assert.Equal(next, port.AttachMode);
            Assert.NotEqual(staleId, ProgramId(ifindex));
            using var peer = new XdpPeerSocket(veth.B);
            var frame = new byte[100];
            var seen = new bool[64];
            for (uint seq = 0; seq < seen.Length; seq++)
            {
                XdpPeerSocket.Build(frame, seq);
                peer.Send(frame);
            }
            Assert.Equal(seen.Length, AfXdpTestSupport.Drain(port, new PacketBatch(64), 100, seen, seen.Length, 4));
        }
        AfXdpTestSupport.AssertDetached(veth.A);
    }

    [RootFact]
    public unsafe void Attach_ProgramHeldByLink_OthersRefusedAndPortKeepsWorking()
    {
        using var veth = new VethPair();
        int ifindex = (int)Libc.if_nametoindex(veth.A);
        using var port = new AfXdpPort(veth.A, 0, 0, AfXdpTestSupport.SmallRings(XdpAttachMode.Native));
        uint id = ProgramId(ifindex);
        // What a second gateway (another process) would do: attach through the shim, and failing that, force.
        int mapFd, mode, linkFd;
        string obj = FastTunXdp.FindAsset(FastTunXdp.ProgramFile)!;
        Assert.Equal(-FastTunXdp.EBUSY, FastTunXdp.fasttun_xdp_attach(ifindex, obj, 1, (int)XdpAttachMode.Auto, &mapFd, &mode, &linkFd));
        Assert.Equal(-FastTunXdp.EBUSY, FastTunXdp.fasttun_xdp_attach(ifindex, obj, 1, (int)XdpAttachMode.Auto | FastTunXdp.Force, &mapFd, &mode, &linkFd));
        Assert.Throws<InvalidOperationException>(() => Shell.Ip($"link set dev {veth.A} xdp off")); // netlink cannot detach a link
        Assert.Equal(id, ProgramId(ifindex));

        using var peer = new XdpPeerSocket(veth.B);
        var frame = new byte[100];
        var seen = new bool[16];
        for (uint seq = 0; seq < seen.Length; seq++)
        {
            XdpPeerSocket.Build(frame, seq);
            peer.Send(frame);
        }
        Assert.Equal(seen.Length, AfXdpTestSupport.Drain(port, new PacketBatch(64), 100, seen, seen.Length, 0));
    }

    [RootFact]
    public void Constructor_ForeignProgramAttached_RefusedUnlessForced()
    {
        using var veth = new VethPair();
        string foreign = CompileForeignProgram();
        try
        {
            Shell.Ip($"link set dev {veth.A} xdpgeneric obj {foreign} sec xdp");
            var ex = Assert.Throws<LinuxException>(() => new AfXdpPort(veth.A, 0, 0, AfXdpTestSupport.SmallRings(XdpAttachMode.Auto)));
            Assert.Contains(veth.A, ex.Message);
            Assert.Contains("non-FastTun", ex.Message);
            Assert.Contains("foreign_pass", Shell.Ip($"-d link show {veth.A}")); // untouched

            var forced = AfXdpTestSupport.SmallRings(XdpAttachMode.Auto) with { ForceReplaceForeignProgram = true };
            using (var port = new AfXdpPort(veth.A, 0, 0, forced))
            {
                Assert.Equal(XdpAttachMode.Native, port.AttachMode); // Auto prefers driver mode; veth has it
                Assert.DoesNotContain("foreign_pass", Shell.Ip($"-d link show {veth.A}"));
            }
            AfXdpTestSupport.AssertDetached(veth.A);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(foreign)!, recursive: true);
        }
    }

    private static unsafe uint ProgramId(int ifindex)
    {
        int mode;
        uint id;
        Assert.Equal(0, FastTunXdp.fasttun_xdp_query(ifindex, &mode, &id));
        return id;
    }

    private static string CompileForeignProgram()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"fasttun-foreign-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        string src = Path.Combine(dir, "foreign.c");
        File.WriteAllText(src, """
            #include <linux/bpf.h>
            #include <bpf/bpf_helpers.h>
            SEC("xdp") int foreign_pass(struct xdp_md *ctx) { return XDP_PASS; }
            char LICENSE[] SEC("license") = "GPL";
            """);
        string obj = Path.Combine(dir, "foreign.o");
        Shell.Run("clang", $"-O2 -target bpf -I/usr/include/{Shell.Run("cc", "-dumpmachine").Trim()} -c {src} -o {obj}");
        File.Delete(src);
        return obj;
    }
}
