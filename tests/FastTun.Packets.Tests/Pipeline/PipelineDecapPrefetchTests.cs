using System.Runtime.CompilerServices;
using FastTun.Packets.Headers;
using FastTun.Packets.Tunnels;

namespace FastTun.Packets.Tests.Pipeline;

/// <summary>
/// Pass 1's decap prefetch reads a packet's tunnel-table key from the header words pass 1 loaded
/// (<c>Pipeline.TryReadTunnelKey</c>); a wrong key would only waste the hint, so the oracle is the receive path's own
/// key reader, <see cref="TunnelTable.TryReadKey"/>, on random IPIP, GRE (any flags, truncated) and other packets.
/// </summary>
public sealed class PipelineDecapPrefetchTests
{
    [Fact]
    public unsafe void TryReadTunnelKey_RandomPackets_MatchesTunnelTableTryReadKey()
    {
        var rng = new Random(20261206);
        byte[] protocols = [Ipv4Header.ProtocolIpip, Ipv4Header.ProtocolGre, Ipv4Header.ProtocolUdp, Ipv4Header.ProtocolTcp, 1, 0];
        int tunnels = 0, keyed = 0;
        for (int n = 0; n < 20_000; n++)
        {
            int ihl = rng.Next(4) == 0 ? rng.Next(5, 16) : 5;
            var packet = new byte[ihl * 4 + rng.Next(0, 40)];
            rng.NextBytes(packet);
            packet[Ipv4Header.VersionIhlOffset] = (byte)(0x40 | ihl);
            packet[Ipv4Header.ProtocolOffset] = rng.Next(8) == 0 ? (byte)rng.Next(256) : protocols[rng.Next(protocols.Length)];
            if (packet.Length > ihl * 4 && rng.Next(2) == 0)
                packet[ihl * 4] &= (byte)~(rng.Next(2) == 0 ? GreHeader.FlagChecksum >> 8 : 0); // with and without C
            bool expected = TunnelTable.TryReadKey(packet, out _, out _, out byte expectedProtocol, out bool hasKey, out uint expectedKey);
            bool actual;
            byte protocol;
            uint key;
            fixed (byte* ip = packet)
                actual = Packets.Datapath.Pipeline.TryReadTunnelKey(ip, packet.Length, Unsafe.ReadUnaligned<uint>(ip + Ipv4Header.TtlOffset),
                    out protocol, out key);
            Assert.Equal(expected, actual);
            if (!expected) continue;
            Assert.Equal(expectedProtocol, protocol);
            Assert.Equal(expectedKey, key);
            tunnels++;
            if (hasKey) keyed++;
        }
        Assert.True(tunnels > 4_000 && keyed > 1_000, $"the generator made {tunnels} tunnel packets, {keyed} with a key");
    }
}
