using FastTun.Gateway.Capture;

namespace FastTun.Gateway.Cli;

/// <summary><c>fasttun diff A B [--ignore FIELD[,FIELD]] [--json]</c>: compares two captures field by field.</summary>
internal static class DiffCommand
{
    public const string UsageText = """
        Usage: fasttun diff A.pcapng B.pcapng [--ignore FIELD[,FIELD...]] [--json]
          Compares two captures of the same input packet by packet and field by field (pcapng or pcap,
          Ethernet or raw IPv4). Timestamps, IP ID values (as long as both sides change them) and checksum
          values (their validity is compared) are ignored; --ignore adds fields or whole layers
          (eth, eth.src, gre.sequence, ipv4(2).ttl). Exit 0 same, 1 different, 2 unreadable file or usage.

        """;

    public static int Run(ReadOnlySpan<string> args, TextWriter output, TextWriter error)
    {
        var files = new List<string>();
        var ignore = new List<string>();
        bool json = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-h" or "--help": output.Write(UsageText); return CommandLine.ExitOk;
                case "--json": json = true; break;
                case "--ignore" when i + 1 < args.Length:
                    ignore.AddRange(args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
                    break;
                case var a when a.StartsWith('-'): return CliErrors.Usage("diff", $"unknown or incomplete option '{a}'", UsageText);
                default: files.Add(args[i]); break;
            }
        }
        if (files.Count != 2) return CliErrors.Usage("diff", $"needs exactly two capture files, got {files.Count}", UsageText);
        return CaptureDiffReport.Run(files[0], files[1], ignore, json, output, error);
    }
}
