using System.Runtime.InteropServices;
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
    public const string UsageText = """
        Usage: fasttun sink --iface X [--driver af_xdp|af_packet] [--queue Q] [--duration S] [--ip A]
                            [--mac MAC] [--json]
          --ip A     answer ARP who-has A with the interface MAC (so a gateway can resolve the sink)

        """;

    public static int Run(ReadOnlySpan<string> args)
    {
        string? iface = null;
        uint ip = 0;
        int queue = 0;
        bool json = false;
        byte[]? mac = null;
        var duration = TimeSpan.Zero;
        var driver = TrafficDriver.AfXdp;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string? v = i + 1 < args.Length ? args[i + 1] : null;
            bool ok = true;
            switch (a)
            {
                case "--iface" when v is not null: iface = v; i++; break;
                case "--driver" when v is not null: ok = TrafficPorts.TryParseDriver(v, out driver); i++; break;
                case "--queue" when v is not null: ok = TrafficArgs.TryInt(v, 0, 1023, out queue); i++; break;
                case "--duration" when v is not null: ok = TrafficArgs.TrySeconds(v, out duration); i++; break;
                case "--ip" when v is not null: ok = FastTun.Packets.Headers.Ipv4Address.TryParse(v, out ip); i++; break;
                case "--mac" when v is not null: ok = TrafficArgs.TryMac(v, out var m); mac = m; i++; break;
                case "--json": json = true; break;
                case "-h" or "--help": Console.Out.Write(UsageText); return CommandLine.ExitOk;
                default: return Usage($"unknown or incomplete argument '{a}'");
            }
            if (!ok) return Usage($"bad value '{v}' for {a}");
        }
        if (iface is null) return Usage("missing --iface");
        if (Libc.geteuid() != 0) return Fail("fasttun sink needs root (raw sockets, XDP)");

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
        using (var sink = new TrafficSink(port, mac ?? nic.Mac, ip))
        {
            int stopRequested = 0;
            // Volatile.Write in the handlers (signal thread) pairs with the Volatile.Read in the loop's stop check.
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; Volatile.Write(ref stopRequested, 1); });
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; Volatile.Write(ref stopRequested, 1); });
            Console.Error.WriteLine($"sink: ready on {iface} ({TrafficPorts.Name(driver)})");
            // Volatile: pairs with the signal handlers' writes; read once per pass of the receive loop.
            var result = sink.Run(duration, () => Volatile.Read(ref stopRequested) != 0);
            string drv = TrafficPorts.Name(driver);
            Console.Out.Write(json ? TrafficReport.SinkJson(result, iface, drv) + "\n" : TrafficReport.SinkText(result, iface, drv));
        }
        return CommandLine.ExitOk;
    }

    private static int Usage(string message) => CliErrors.Usage("sink", message, UsageText);

    private static int Fail(string message) => CliErrors.Fail("sink", message);
}
