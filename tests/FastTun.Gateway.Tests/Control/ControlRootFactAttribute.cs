namespace FastTun.Gateway.Tests.Control;

/// <summary>A fact that needs root (network namespaces, AF_XDP, SO_PEERCRED uid 0); skipped otherwise. CI runs as root.</summary>
public sealed class ControlRootFactAttribute : FactAttribute
{
    public ControlRootFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess) Skip = "needs root (network namespaces, XDP, root-only control socket): run make test as root";
    }
}
