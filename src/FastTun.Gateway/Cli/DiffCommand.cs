using System.CommandLine;
using FastTun.Gateway.Capture;

namespace FastTun.Gateway.Cli;

/// <summary><c>fasttun diff A B [--ignore FIELD[,FIELD]] [--json]</c>: compares two captures field by field.</summary>
internal static class DiffCommand
{
    public static Command Build()
    {
        var a = new Argument<string>("A") { Description = "first capture (pcapng or pcap; Ethernet or raw IPv4)" };
        var b = new Argument<string>("B") { Description = "second capture" };
        var ignore = new Option<string[]>("--ignore")
        {
            Description = "more fields or whole layers to ignore, comma separated or repeated (eth, eth.src, gre.sequence, ipv4(2).ttl)",
            HelpName = "FIELD[,FIELD...]",
            AllowMultipleArgumentsPerToken = false,
        };
        var json = CliOptions.Json("print the comparison as JSON");
        var command = new Command("diff", "compare two captures of the same input packet by packet and field by field (a Linux " +
            "tunnel's and FastTun's); timestamps, IP ID values (when both sides change them) and checksum values (their " +
            "validity is compared) are ignored; exit 0 same, 1 different, 2 unreadable file or usage") { a, b, ignore, json };
        command.SetAction(r =>
        {
            var fields = (r.GetValue(ignore) ?? []).SelectMany(f => f.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
            return CaptureDiffReport.Run(r.GetValue(a)!, r.GetValue(b)!, fields, r.GetValue(json), r.Out(), r.Err());
        });
        return command;
    }
}
