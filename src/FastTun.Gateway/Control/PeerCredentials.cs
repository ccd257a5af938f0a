using System.Runtime.InteropServices;
using System.Net.Sockets;

namespace FastTun.Gateway.Control;

/// <summary>
/// The credentials of the process at the other end of a Unix socket, from <c>getsockopt(SO_PEERCRED)</c>:
/// the kernel records them at connect(2), so a client cannot lie about them. Only uid 0 may use the control
/// socket; the socket file's mode 0600 already keeps others out, and this check holds even if someone
/// loosens the mode or passes the descriptor on.
/// </summary>
public readonly record struct PeerCredentials(int Pid, uint Uid, uint Gid)
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;
    /// <summary>struct ucred { pid_t pid; uid_t uid; gid_t gid; }: three 32-bit fields.</summary>
    public const int UcredSize = 12;

    public static PeerCredentials Read(Socket socket)
    {
        Span<byte> ucred = stackalloc byte[UcredSize];
        int n = socket.GetRawSocketOption(SolSocket, SoPeerCred, ucred);
        if (n < UcredSize) throw new SocketException((int)SocketError.ProtocolNotSupported);
        return FromUcred(ucred);
    }

    /// <summary>Decodes a struct ucred in host byte order.</summary>
    public static PeerCredentials FromUcred(ReadOnlySpan<byte> ucred) => new(
        MemoryMarshal.Read<int>(ucred),
        MemoryMarshal.Read<uint>(ucred[4..]),
        MemoryMarshal.Read<uint>(ucred[8..]));

    public bool IsRoot => Uid == 0;

    /// <summary>The line a refused client reads before the connection closes.</summary>
    public string RefusalMessage =>
        $"permission denied: the fasttun control socket is for root only (you are uid {Uid}); run the command with sudo";
}
