
namespace FastTun.Gateway.Tests.Netns;

/// <summary>A fact that needs root and network namespaces; skipped with the reason otherwise (CI runs as root).</summary>
public sealed class NetnsFactAttribute : FactAttribute
{
    public NetnsFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess) Skip = "needs root for network namespaces, veth and XDP: run make test as root";
    }
}
