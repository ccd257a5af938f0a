using System.CommandLine;
using FastTun.Traffic;
using FastTun.Linux.Interop;
using FastTun.Linux.Netlink;
using FastTun.Linux.Ports;

namespace FastTun.Gateway.Cli;

/// <summary>
/// <c>fasttun sink</c>: counts the generator's packets on an interface (plain or inside IPIP/GRE/VXLAN) and
/// reports rate, loss, reordering, duplicates and latency. Runs for --duration or until SIGINT/SIGTERM.
/// Prints "sink: ready" on stderr once the port is open, so scripts know when to start the generator.
/// </summary>
public static class SinkCommand
{
    public static Command Build()
    {
        var iface = new Option<string>("--iface") { Description = "interface to count on", HelpName = "NAME", Required = true };
        var driver = GenOptions.Driver();
        var queue = CliOptions.Int("--queue", "interface queue", 0, 1023, 0);
        var duration = CliOptions.Seconds("--duration", "stop after SECONDS (default: at SIGINT/SIGTERM)", TimeSpan.Zero);
        var ip = CliOptions.Optional("--ip", "answer ARP who-has this address with the interface MAC (so a gateway can resolve the sink)",
            "A.B.C.D", (string t, out uint v) => FastTun.Packets.Headers.Ipv4Address.TryParse(t, out v), "an IPv4 address A.B.C.D");
        var mac = GenOptions.Mac("--mac", "MAC to answer ARP with (default: the interface's)");
        var coalesce = CliOptions.Int("--rx-coalesce-us", "when the ring runs dry, sleep this long on a timer instead of waiting " +
            "in poll(2) to be woken by the next frame (like NIC rx interrupt coalescing: the sender's transmit then wakes no " +
            "one; latency samples include up to one sleep); 0 = poll(2)", 0, (int)TrafficSink.MaxCoalesce.TotalMicroseconds, 0);
        var json = CliOptions.Json("print the report as JSON");
        var command = new Command("sink", "count test traffic (plain or inside IPIP/GRE/VXLAN): rate, loss, reordering, duplicates, " +
            "latency; prints 'sink: ready' on stderr once listening; stopped by SIGINT or SIGTERM, it counts what its ring holds, then reports") { iface, driver, queue, duration, ip, mac, coalesce, json };
        command.SetAction(r => Run(r.GetValue(iface)!, r.GetValue(driver), r.GetValue(queue), r.GetValue(duration), r.GetValue(ip) ?? 0,
            GenOptions.MacBytes(r.GetValue(mac)), TimeSpan.FromMicroseconds(r.GetValue(coalesce)), r.GetValue(json)));
        return command;
    }

    public static int Run(string iface, TrafficDriver driver, int queue, TimeSpan duration, uint ip, byte[]? mac, TimeSpan coalesce, bool json)
    {
        if (CommandCapabilities.Check("sink") is { } missing)
        {
            Console.Error.WriteLine(missing);
            return CommandLine.ExitError;
        }

        PacketPort port;
        NetInterface nic;
        try
        {
            nic = NetInterface.Get(iface);
            port = TrafficPorts.Open(iface, driver, queue, nic.Mtu + 18, forReceive: true);
        }
        catch (Exception e) when (e is LinuxException or NetInterfaceException or DllNotFoundException or IOException or ArgumentException)
        {
            return Fail($"cannot open {iface}: {e.Message}");
        }
        using (port)
        using (var sink = new TrafficSink(port, mac ?? nic.Mac, ip, coalesce: coalesce))
        {
            int stopRequested = 0;
            // Volatile.Write in the handler (signal thread) pairs with the Volatile.Read in the loop's stop check.
            using var signals = CommandSignals.Register(() => Volatile.Write(ref stopRequested, 1));
            Console.Error.WriteLine($"sink: ready on {iface} ({TrafficPorts.Name(driver)})");
            // Volatile: pairs with the signal handlers' writes; read once per pass of the receive loop.
            var result = sink.Run(duration, () => Volatile.Read(ref stopRequested) != 0);
            string drv = TrafficPorts.Name(driver);
            Console.Out.Write(json ? TrafficReport.SinkJson(result, iface, drv) + "\n" : TrafficReport.SinkText(result, iface, drv));
        }
        return CommandLine.ExitOk;
    }

    private static int Fail(string message) => CliErrors.Fail("sink", message);
}
