namespace FastTun.Gateway.Tests.Control;

/// <summary>A fact that needs tshark (Debian package tshark, installed on CI); skipped with the reason otherwise.</summary>
public sealed class CaptureTsharkFactAttribute : FactAttribute
{
    public CaptureTsharkFactAttribute()
    {
        if (!File.Exists("/usr/bin/tshark")) Skip = "needs tshark (apt-get install tshark)";
    }
}
