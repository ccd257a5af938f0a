using System.Runtime.Intrinsics;

namespace FastTun.Packets.Checksum;

public static partial class InternetChecksum
{
    /// <summary>Partial sum of <paramref name="data"/> on the widest vector path this CPU accelerates.
    /// <c>VectorN.IsHardwareAccelerated</c> is a JIT-time constant (it already reflects DOTNET_EnableAVX512=0,
    /// DOTNET_EnableHWIntrinsic=0 and DOTNET_PreferredVectorBitWidth), so this selection folds away like a
    /// static readonly field would, even at tier 0, and the chosen path is called or inlined directly.
    /// Fold() of the result equals Fold(SumScalar); see the contract in InternetChecksum.Native.cs.</summary>
    public static uint Sum(ReadOnlySpan<byte> data, uint initial = 0)
    {
        if (Vector512.IsHardwareAccelerated) return SumVector512(data, initial);
        if (Vector256.IsHardwareAccelerated) return SumVector256(data, initial);
        if (Vector128.IsHardwareAccelerated) return SumVector128(data, initial);
        return SumScalar64(data, initial);
    }
}
