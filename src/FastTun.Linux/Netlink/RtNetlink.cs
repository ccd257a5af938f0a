using System.Buffers.Binary;
using System.Runtime.InteropServices;
using FastTun.Linux.Interop;

namespace FastTun.Linux.Netlink;

/// <summary>
/// Minimal rtnetlink client (AF_NETLINK, NETLINK_ROUTE) for setup-time queries. Messages are built and parsed as
/// bytes with host-order reads (netlink headers are host byte order; addresses inside attributes are network
/// order), so no struct overlays the kernel's variable-length messages.
/// </summary>
internal static class RtNetlink
{
    // include/uapi/linux/netlink.h, rtnetlink.h, if_addr.h
    private const ushort NLMSG_ERROR = 2;
    private const ushort NLMSG_DONE = 3;
    private const ushort RTM_NEWADDR = 20;
    private const ushort RTM_GETADDR = 22;
    private const ushort NLM_F_REQUEST = 0x1;
    private const ushort NLM_F_DUMP = 0x300;
    private const ushort IFA_ADDRESS = 1;
    private const ushort IFA_LOCAL = 2;
    private const int NlMsgHdrLen = 16;
    private const int IfAddrMsgLen = 8;
    private const int RtAttrHdrLen = 4;

    /// <summary>Dumps the IPv4 addresses and keeps those of interface <paramref name="ifindex"/>. IFA_LOCAL is the
    /// interface's own address (IFA_ADDRESS is the peer on point-to-point links), so it wins when both are present.</summary>
    public static unsafe IReadOnlyList<Ipv4Address> GetIpv4Addresses(int ifindex, string name)
    {
        int fd = Libc.socket(Libc.AF_NETLINK, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, Libc.NETLINK_ROUTE);
        if (fd < 0) throw NetInterfaceException.FromErrno(name, "socket(AF_NETLINK)", Marshal.GetLastPInvokeError());
        try
        {
            Span<byte> req = stackalloc byte[NlMsgHdrLen + IfAddrMsgLen];
            req.Clear();
            const uint seq = 1;
            BinaryPrimitives.WriteUInt32LittleEndian(req, (uint)req.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(req[4..], RTM_GETADDR);
            BinaryPrimitives.WriteUInt16LittleEndian(req[6..], NLM_F_REQUEST | NLM_F_DUMP);
            BinaryPrimitives.WriteUInt32LittleEndian(req[8..], seq);
            req[NlMsgHdrLen] = Libc.AF_INET; // ifa_family: the kernel filters the dump by family
            fixed (byte* p = req)
            {
                if (Libc.sendto(fd, p, (nuint)req.Length, 0, null, 0) < 0)
                    throw NetInterfaceException.FromErrno(name, "netlink RTM_GETADDR send", Marshal.GetLastPInvokeError());
            }

            var result = new List<Ipv4Address>();
            byte[] buffer = new byte[64 * 1024];
            while (true)
            {
                nint n;
                fixed (byte* b = buffer) n = Libc.recvfrom(fd, b, (nuint)buffer.Length, 0, null, null);
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Libc.EINTR) continue;
                    throw NetInterfaceException.FromErrno(name, "netlink RTM_GETADDR receive", errno);
                }
                if (ParseAddressMessages(buffer.AsSpan(0, (int)n), seq, ifindex, name, result)) return result;
            }
        }
        finally
        {
            Libc.close(fd);
        }
    }

    /// <summary>Parses one datagram of a dump; returns true at NLMSG_DONE.</summary>
    internal static bool ParseAddressMessages(ReadOnlySpan<byte> data, uint seq, int ifindex, string name, List<Ipv4Address> result)
    {
        while (data.Length >= NlMsgHdrLen)
        {
            int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(data);
            ushort type = BinaryPrimitives.ReadUInt16LittleEndian(data[4..]);
            if (len < NlMsgHdrLen || len > data.Length)
                throw new NetInterfaceException(name, $"malformed netlink reply while listing addresses of '{name}'");
            ReadOnlySpan<byte> msg = data[..len];
            if (BinaryPrimitives.ReadUInt32LittleEndian(msg[8..]) == seq)
            {
                if (type == NLMSG_DONE) return true;
                if (type == NLMSG_ERROR)
                {
                    int err = msg.Length >= NlMsgHdrLen + 4 ? -BinaryPrimitives.ReadInt32LittleEndian(msg[NlMsgHdrLen..]) : 0;
                    if (err != 0) throw NetInterfaceException.FromErrno(name, "netlink RTM_GETADDR", err);
                    return true;
                }
                if (type == RTM_NEWADDR && msg.Length >= NlMsgHdrLen + IfAddrMsgLen)
                    ParseAddress(msg[NlMsgHdrLen..], ifindex, result);
            }
            int aligned = (len + 3) & ~3;
            if (aligned >= data.Length) break;
            data = data[aligned..];
        }
        return false;
    }

    private static void ParseAddress(ReadOnlySpan<byte> body, int ifindex, List<Ipv4Address> result)
    {
        byte family = body[0];
        byte prefix = body[1];
        int index = (int)BinaryPrimitives.ReadUInt32LittleEndian(body[4..]);
        if (family != Libc.AF_INET || index != ifindex) return;
        uint? local = null, address = null;
        ReadOnlySpan<byte> attrs = body[IfAddrMsgLen..];
        while (attrs.Length >= RtAttrHdrLen)
        {
            int alen = BinaryPrimitives.ReadUInt16LittleEndian(attrs);
            ushort atype = BinaryPrimitives.ReadUInt16LittleEndian(attrs[2..]);
            if (alen < RtAttrHdrLen || alen > attrs.Length) break;
            if (alen == RtAttrHdrLen + 4)
            {
                uint v = BinaryPrimitives.ReadUInt32BigEndian(attrs[RtAttrHdrLen..]);
                if (atype == IFA_LOCAL) local = v;
                else if (atype == IFA_ADDRESS) address = v;
            }
            int aligned = (alen + 3) & ~3;
            if (aligned >= attrs.Length) break;
            attrs = attrs[aligned..];
        }
        if ((local ?? address) is uint a) result.Add(new Ipv4Address(a, prefix));
    }
}
