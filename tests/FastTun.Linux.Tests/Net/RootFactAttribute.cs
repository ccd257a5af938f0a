using FastTun.Linux.Interop;

namespace FastTun.Linux.Tests.Net;

/// <summary>A fact that needs root (raw sockets, veth, XDP). Skipped with the reason when not root; CI runs as root.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (Libc.geteuid() != 0) Skip = "needs root (CAP_NET_ADMIN/CAP_NET_RAW): run make test as root";
    }
}

/// <summary>A theory that needs root; see <see cref="RootFactAttribute"/>.</summary>
public sealed class RootTheoryAttribute : TheoryAttribute
{
    public RootTheoryAttribute()
    {
        if (Libc.geteuid() != 0) Skip = "needs root (CAP_NET_ADMIN/CAP_NET_RAW): run make test as root";
    }
}
