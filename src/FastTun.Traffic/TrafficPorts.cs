using FastTun.Linux.AfPacket;
using FastTun.Linux.AfXdp;
using FastTun.Linux.Netlink;
using FastTun.Linux.Ports;

namespace FastTun.Traffic;

public enum TrafficDriver
{
    AfXdp,
    AfPacket,
    /// <summary>Generator only: frames made and sent inside the kernel (<see cref="XdpLiveGenerator"/>).</summary>
    XdpLive,
}

/// <summary>Opens the port the generator or sink uses, sized for the frames it will carry.</summary>
public static class TrafficPorts
{
    /// <summary>AF_XDP frame data room with 2048-byte UMEM chunks: 2048 − 128 (UMEM headroom) − 256 (XDP headroom).</summary>
    private const int SmallChunkRoom = 2048 - 128 - 256;

    public static bool TryParseDriver(string text, out TrafficDriver driver)
    {
        switch (text)
        {
            case "af_xdp" or "xdp": driver = TrafficDriver.AfXdp; return true;
            case "af_packet" or "packet": driver = TrafficDriver.AfPacket; return true;
            default: driver = default; return false;
        }
    }

    /// <summary>The generator's drivers: the ports' two and xdp_live (in-kernel, BPF_PROG_RUN live frames).</summary>
    public static bool TryParseGenDriver(string text, out TrafficDriver driver)
    {
        if (text is "xdp_live" or "live") { driver = TrafficDriver.XdpLive; return true; }
        return TryParseDriver(text, out driver);
    }

    public static string Name(TrafficDriver driver) => driver switch
    {
        TrafficDriver.AfXdp => "af_xdp",
        TrafficDriver.AfPacket => "af_packet",
        _ => "xdp_live",
    };

    /// <summary>Opens <paramref name="iface"/> (bringing it up first). <paramref name="largestFrame"/> picks the
    /// AF_XDP chunk size. Throws LinuxException/NetInterfaceException naming the interface.</summary>
    public static PacketPort Open(string iface, TrafficDriver driver, int queue, int largestFrame, bool forReceive)
    {
        if (driver == TrafficDriver.XdpLive) throw new ArgumentException("xdp_live only sends (fasttun gen); it opens no port");
        NetInterface.SetUp(iface);
        if (driver == TrafficDriver.AfXdp)
        {
            var options = new AfXdpOptions
            {
                FrameSize = largestFrame > SmallChunkRoom ? 4096 : 2048,
                // A sink wants a deep rx ring to ride out scheduling gaps; a generator wants a deep tx ring.
                RxRingSize = forReceive ? 4096 : 256,
                FillRingSize = forReceive ? 4096 : 256,
                TxRingSize = forReceive ? 256 : 2048,
                CompletionRingSize = forReceive ? 256 : 2048,
                FrameCount = 8192,
                ForceReplaceForeignProgram = false,
            };
            return new AfXdpPort(iface, queue, 0, options);
        }
        var packetOptions = new AfPacketOptions
        {
            RxBlockCount = forReceive ? 64 : 4,
            TxFrameCount = forReceive ? 128 : 2048,
            // The generator sends complete frames; no vnet header needed on transmit, but the sink must see
            // complete checksums of frames a local stack sent with CHECKSUM_PARTIAL.
            VnetHeader = true,
        };
        return new AfPacketPort(iface, 0, packetOptions, queue);
    }
}
