using FastTun.Linux.Netlink;
using Microsoft.Extensions.Logging;

namespace FastTun.Gateway.Dataplane;

/// <summary>
/// Makes sure the kernel stays out of the way on the interfaces FastTun owns, as VPP and DPDK do: the kernel
/// interface is up, carries no IPv4 address (else the kernel would answer ARP and ICMP beside us), does not
/// forward, and has IPv6 off (no router solicitations or MLD of its own). It refuses to start when an owned
/// interface has an IPv4 address instead of silently removing someone's configuration.
/// </summary>
public static class KernelGuard
{
    public static NetInterface Prepare(string name, ILogger logger)
    {
        var iface = NetInterface.Get(name); // throws naming the interface when it does not exist
        var addresses = iface.GetIpv4Addresses();
        if (addresses.Count > 0)
        {
            throw new InvalidOperationException(
                $"{name} has IPv4 address {string.Join(", ", addresses)} in the kernel: the kernel would answer ARP and ICMP " +
                $"beside FastTun. FastTun owns {name}; remove it first (ip addr flush dev {name}).");
        }
        if (!iface.IsAdminUp)
        {
            NetInterface.SetUp(name);
            logger.LogInformation("{Interface}: brought the link up", name);
        }
        WriteSysctl($"/proc/sys/net/ipv4/conf/{name}/forwarding", "0", logger);
        WriteSysctl($"/proc/sys/net/ipv6/conf/{name}/disable_ipv6", "1", logger);
        iface = NetInterface.Get(name);
        if (!iface.HasCarrier)
            logger.LogWarning("{Interface}: link is down (no carrier); FastTun will forward once it comes up", name);
        logger.LogInformation(
            "{Interface}: owned by FastTun — kernel has no IPv4 address, forwarding off, IPv6 off; mac {Mac} mtu {Mtu} rx queues {Rx}",
            name, iface.MacText, iface.Mtu, iface.RxQueues);
        return iface;
    }

    private static void WriteSysctl(string path, string value, ILogger logger)
    {
        try
        {
            if (!File.Exists(path)) return; // IPv6 compiled out, or the interface has no such knob
            if (File.ReadAllText(path).Trim() != value) File.WriteAllText(path, value);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("could not set {Path} to {Value}: {Error}", path, value, e.Message);
        }
    }
}
