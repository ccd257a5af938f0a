namespace FastTun.Packets.Datapath;

/// <summary>
/// Why a frame was not forwarded. Every rejection in the data path names one of these and bumps the
/// per-worker counter for it; nothing is dropped silently. CLI names are kebab-case
/// (<see cref="DropReasons.Name"/>): <c>NoTunnel</c> is shown as <c>no-tunnel</c>.
/// Append new reasons before <see cref="Count"/>; the numeric values are not persisted anywhere.
/// </summary>
public enum DropReason : ushort
{
    None = 0,
    // Layer 2
    Truncated,
    BadEthernet,
    UnsupportedEtherType,
    NotForUs,
    BadArp,
    // IPv4 header
    BadIpVersion,
    BadIpHeaderLength,
    BadIpTotalLength,
    BadIpChecksum,
    BadIpOptions,
    // Forwarding
    TtlExceeded,
    NoRoute,
    FragNeeded,
    NeighborUnresolved,
    NeighborQueueFull,
    NoHeadroom,
    // Tunnels
    NoTunnel,
    BadChecksum,
    GreBadVersion,
    GreReservedBits,
    GreChecksumMissing,
    GreChecksumUnexpected,
    GreKeyMismatch,
    GreSequenceMissing,
    GreSequenceOld,
    GreUnsupportedProtocol,
    EcnCeOnNotEct,
    InnerMalformed,
    // Fragments
    ReassemblyTimeout,
    ReassemblyOverflow,
    ReassemblyBad,
    FragmentMalformed,
    // Local delivery
    UnsupportedProtocol,
    IcmpRateLimited,
    // Ports
    TxRingFull,
    RxRingFull,
    TxTooLarge,
    // Gateway-built frames
    PoolExhausted,
    // Tunnels (appended)
    /// <summary>An outer IPv4 fragment reached decapsulation; the caller reassembles before decap.</summary>
    TunnelFragment,
    // Routes (appended)
    /// <summary>The route is a blackhole: dropped without an ICMP error, as the kernel's blackhole route.</summary>
    Blackhole,
    // Source checks (SourceCheck.cs, appended)
    /// <summary>Source in 0/8, 127/8, 224/4, 240/4, 255.255.255.255, or one of the gateway's own addresses.</summary>
    MartianSource,
    /// <summary>Reverse-path filter: no route back to the source (loose), or not via the arrival interface (strict).</summary>
    RpFilter,
    /// <summary>A frame with a partial (offloaded) checksum that could not be completed.</summary>
    PartialChecksum,
    Count,
}

public static class DropReasons
{
    private static readonly string[] Names = BuildNames();

    /// <summary>kebab-case name for the CLI and metrics: <c>NoTunnel</c> → <c>no-tunnel</c>.</summary>
    public static string Name(DropReason reason) =>
        (uint)reason < (uint)Names.Length ? Names[(int)reason] : "unknown";

    private static string[] BuildNames()
    {
        var names = new string[(int)DropReason.Count];
        for (int i = 0; i < names.Length; i++)
        {
            names[i] = ToKebab(((DropReason)i).ToString());
        }
        return names;
    }

    internal static string ToKebab(string pascal)
    {
        var sb = new System.Text.StringBuilder(pascal.Length + 8);
        for (int i = 0; i < pascal.Length; i++)
        {
            char c = pascal[i];
            if (char.IsUpper(c))
            {
                // Break before an upper-case letter that starts a new word (IpChecksum → ip-checksum).
                if (i > 0) sb.Append('-');
                sb.Append(char.ToLowerInvariant(c));
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }
}
