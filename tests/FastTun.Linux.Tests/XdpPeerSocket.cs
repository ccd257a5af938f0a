using System.Buffers.Binary;
using System.Runtime.InteropServices;
using FastTun.Linux.Interop;

namespace FastTun.Linux.Tests;

/// <summary>
/// The far end of a veth pair for the AF_XDP tests: a plain AF_PACKET socket bound to one interface that
/// sends test frames and receives what the port under test transmits. Frames carry a sequence number and a
/// pattern derived from it, so a receiver can check each arrived exactly once and intact.
/// </summary>
internal sealed unsafe class XdpPeerSocket : IDisposable
{
    private const ushort ETH_P_ALL = 0x0003;
    private const byte PACKET_OUTGOING = 4;
    public const int SeqOffset = 42;

    [StructLayout(LayoutKind.Sequential)]
    private struct sockaddr_ll
    {
        public ushort sll_family;
        public ushort sll_protocol;
        public int sll_ifindex;
        public ushort sll_hatype;
        public byte sll_pkttype;
        public byte sll_halen;
        public ulong sll_addr;
    }

    private readonly int _fd;
    private readonly int _ifindex;
    private readonly byte[] _buffer = new byte[65536];

    public XdpPeerSocket(string interfaceName)
    {
        _ifindex = (int)Libc.if_nametoindex(interfaceName);
        if (_ifindex == 0) throw LinuxException.FromLastError($"if_nametoindex({interfaceName})");
        // Protocol 0 at creation: the socket receives nothing until bind names the interface and ETH_P_ALL. Created
        // with ETH_P_ALL it would take frames from every interface of the namespace between socket() and bind(),
        // and a test running beside one that floods its own veth (another suite, a benchmark) then saw a stranger's
        // frame arrive "at the peer" (the flaky failure, about one suite run in seven on a busy host).
        _fd = Libc.socket(Libc.AF_PACKET, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, 0);
        if (_fd < 0) throw LinuxException.FromLastError("socket(AF_PACKET)");
        var addr = new sockaddr_ll { sll_family = Libc.AF_PACKET, sll_protocol = BinaryPrimitives.ReverseEndianness(ETH_P_ALL), sll_ifindex = _ifindex };
        if (Libc.bind(_fd, &addr, sizeof(sockaddr_ll)) != 0) throw LinuxException.FromLastError($"bind AF_PACKET to {interfaceName}");
        int size = 64 << 20;
        Libc.setsockopt(_fd, Libc.SOL_SOCKET, Libc.SO_RCVBUFFORCE, &size, sizeof(int));
        Libc.setsockopt(_fd, Libc.SOL_SOCKET, Libc.SO_SNDBUFFORCE, &size, sizeof(int));
    }

    /// <summary>Writes test frame <paramref name="seq"/> of <paramref name="length"/> bytes: Ethernet/IPv4/UDP with
    /// the UDP source port varying by seq (so veth spreads flows across queues), then seq and a pattern.</summary>
    public static void Build(Span<byte> frame, uint seq, int flows = 64)
    {
        frame.Clear();
        frame[..6].Fill(0xff);
        frame[6] = 0x02; frame[11] = 0x01;
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], 0x0800);
        var ip = frame[14..];
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(frame.Length - 14));
        ip[8] = 64; ip[9] = 17;
        ip[12] = 10; ip[15] = 1; ip[16] = 10; ip[19] = 2;
        var udp = frame[34..];
        BinaryPrimitives.WriteUInt16BigEndian(udp, (ushort)(10000 + seq % (uint)flows));
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], 9);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(frame.Length - 34));
        BinaryPrimitives.WriteUInt32BigEndian(frame[SeqOffset..], seq);
        for (int i = SeqOffset + 4; i < frame.Length; i++) frame[i] = (byte)(seq + i);
    }

    /// <summary>The sequence number of a test frame, or −1 when its bytes are not what <see cref="Build"/> wrote.</summary>
    public static long Check(ReadOnlySpan<byte> frame, int expectedLength)
    {
        if (frame.Length != expectedLength) return -1;
        uint seq = BinaryPrimitives.ReadUInt32BigEndian(frame[SeqOffset..]);
        Span<byte> expected = stackalloc byte[expectedLength];
        Build(expected, seq);
        // The flow (UDP source port) depends on how many flows the sender spread over; take it as sent.
        frame.Slice(34, 2).CopyTo(expected[34..]);
        return frame.SequenceEqual(expected) ? seq : -1;
    }

    public void Send(ReadOnlySpan<byte> frame)
    {
        fixed (byte* p = frame)
        {
            var addr = new sockaddr_ll { sll_family = Libc.AF_PACKET, sll_ifindex = _ifindex, sll_halen = 6 };
            if (Libc.sendto(_fd, p, (nuint)frame.Length, 0, &addr, sizeof(sockaddr_ll)) != frame.Length)
                throw LinuxException.FromLastError("sendto on peer");
        }
    }

    /// <summary>Receives one frame that arrived at the interface (not one it sent); null when none is waiting.</summary>
    public ReadOnlySpan<byte> TryReceive()
    {
        while (true)
        {
            sockaddr_ll from;
            int len = sizeof(sockaddr_ll);
            nint n;
            fixed (byte* p = _buffer) n = Libc.recvfrom(_fd, p, (nuint)_buffer.Length, Libc.MSG_DONTWAIT, &from, &len);
            if (n < 0) return default;
            if (from.sll_pkttype == PACKET_OUTGOING) continue;
            return _buffer.AsSpan(0, (int)n);
        }
    }

    public void Dispose() => Libc.close(_fd);
}
