namespace FastTun.Linux.Tests.Net;

/// <summary>
/// A veth pair in the root namespace with unique names (ftA&lt;n&gt;/ftB&lt;n&gt;), both up, no IP addresses, IPv6
/// off so the kernel sends nothing of its own (no router solicitations or MLD reports) to confuse a test.
/// Deleted on dispose (deleting one end deletes both).
/// </summary>
public sealed class VethPair : IDisposable
{
    private static int s_next = Environment.ProcessId % 1000 * 10;

    public VethPair(int queues = 1, int mtu = 1500)
    {
        int n = Interlocked.Increment(ref s_next);
        A = $"ftA{n}";
        B = $"ftB{n}";
        Shell.Ip($"link del {A}", check: false);
        string q = queues > 1 ? $" numtxqueues {queues} numrxqueues {queues}" : "";
        Shell.Ip($"link add {A}{q} type veth peer name {B}{q}");
        foreach (var dev in new[] { A, B })
        {
            Shell.Run("sysctl", $"-qw net.ipv6.conf.{dev}.disable_ipv6=1", check: false);
            Shell.Ip($"link set {dev} mtu {mtu} up");
        }
    }

    public string A { get; }
    public string B { get; }

    public void Dispose() => Shell.Ip($"link del {A}", check: false);
}
