using System.Buffers.Binary;
using System.Runtime.InteropServices;
using FastTun.Linux.Interop;
using FastTun.Linux.Netlink;

namespace FastTun.Linux.Tests.Net;

/// <summary>A plain AF_PACKET socket (no rings, no offloads) bound to one interface: the independent sender and
/// receiver the port tests compare <see cref="AfPacket.AfPacketPort"/> against.</summary>
public sealed unsafe class RawPacketSocket : IDisposable
{
    private readonly int _fd;

    public RawPacketSocket(string iface)
    {
        int index = NetInterface.Get(iface).Index;
        // Protocol 0 until bind: no frame of another interface slips in between socket() and bind() (see XdpPeerSocket).
        _fd = Libc.socket(Libc.AF_PACKET, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, 0);
        if (_fd < 0) throw LinuxException.FromLastError("socket(AF_PACKET)");
        var addr = new sockaddr_ll { sll_family = Libc.AF_PACKET, sll_protocol = BinaryPrimitives.ReverseEndianness(Libc.ETH_P_ALL), sll_ifindex = index };
        if (Libc.bind(_fd, &addr, sizeof(sockaddr_ll)) < 0) throw LinuxException.FromLastError($"bind to {iface}");
        int ignore = 1;
        Libc.setsockopt(_fd, Libc.SOL_PACKET, Libc.PACKET_IGNORE_OUTGOING, &ignore, sizeof(int));
        int buf = 8 << 20;
        Libc.setsockopt(_fd, Libc.SOL_SOCKET, Libc.SO_RCVBUFFORCE, &buf, sizeof(int));
        Libc.setsockopt(_fd, Libc.SOL_SOCKET, Libc.SO_SNDBUFFORCE, &buf, sizeof(int));
    }

    public void Send(ReadOnlySpan<byte> frame)
    {
        fixed (byte* p = frame)
        {
            if (Libc.sendto(_fd, p, (nuint)frame.Length, 0, null, 0) != frame.Length)
                throw LinuxException.FromLastError("sendto(AF_PACKET)");
        }
    }

    /// <summary>Next frame, or null when none arrives within <paramref name="timeoutMs"/>.</summary>
    public byte[]? Receive(int timeoutMs)
    {
        var pfd = new Libc.pollfd { fd = _fd, events = Libc.POLLIN };
        if (Libc.poll(&pfd, 1, timeoutMs) <= 0) return null;
        byte[] buffer = new byte[70000];
        fixed (byte* p = buffer)
        {
            nint n = Libc.recvfrom(_fd, p, (nuint)buffer.Length, Libc.MSG_DONTWAIT, null, null);
            return n < 0 ? null : buffer.AsSpan(0, (int)n).ToArray();
        }
    }

    public void Dispose() => Libc.close(_fd);
}

/// <summary>Test frames: Ethernet + IPv4 + UDP with a sequence number in the payload, varied flows for fanout.</summary>
public static class TestFrames
{
    public static readonly byte[] DstMac = [0x02, 0, 0, 0, 0, 0x0b];
    public static readonly byte[] SrcMac = [0x02, 0, 0, 0, 0, 0x0a];
    public const int SeqOffset = 42;

    public static byte[] Udp(int seq, int length, int flow = 0)
    {
        if (length < 60) throw new ArgumentOutOfRangeException(nameof(length));
        byte[] f = new byte[length];
        DstMac.CopyTo(f, 0);
        SrcMac.CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        Span<byte> ip = f.AsSpan(14, 20);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(length - 14));
        ip[8] = 64;
        ip[9] = 17;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], 0x0A000001u + (uint)(flow & 0xff));
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], 0x0A000101u);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], FastTun.Packets.Checksum.InternetChecksum.Compute(ip));
        Span<byte> udp = f.AsSpan(34);
        BinaryPrimitives.WriteUInt16BigEndian(udp, (ushort)(1000 + flow));
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], 9);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(length - 34));
        BinaryPrimitives.WriteInt32BigEndian(f.AsSpan(SeqOffset), seq);
        for (int i = SeqOffset + 4; i < length; i++) f[i] = (byte)(i * 7 + seq);
        return f;
    }

    /// <summary>The sequence number of a frame built by <see cref="Udp"/>, or -1 for anything else (the kernel's own
    /// frames on a fresh link).</summary>
    public static int SeqOf(ReadOnlySpan<byte> frame) =>
        frame.Length >= SeqOffset + 4 && frame[..6].SequenceEqual(DstMac) && frame[6..12].SequenceEqual(SrcMac)
            ? BinaryPrimitives.ReadInt32BigEndian(frame[SeqOffset..])
            : -1;
}
