namespace FastTun.Packets.Checksum;

public static partial class InternetChecksum
{
    /// <summary>Partial sum of <paramref name="data"/> on the fastest path this CPU offers.</summary>
    public static uint Sum(ReadOnlySpan<byte> data, uint initial = 0) => SumScalar(data, initial);
}
