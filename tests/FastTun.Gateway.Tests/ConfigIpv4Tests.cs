using FastTun.Packets.Headers;
using System.Net;
using FastTun.Gateway.Config;

namespace FastTun.Gateway.Tests;

public class ConfigIpv4Tests
{
    [Theory]
    [InlineData("10.1.5.1", 0x0A010501u)]
    [InlineData("0.0.0.0", 0u)]
    [InlineData("255.255.255.255", 0xFFFFFFFFu)]
    [InlineData("172.12.1.10", 0xAC0C010Au)]
    public void TryParseAddress_Valid_ReturnsHostOrder(string text, uint expected)
    {
        Assert.True(Ipv4Address.TryParse(text, out uint address));
        Assert.Equal(expected, address);
        Assert.Equal(text, Ipv4Address.Format(address));
    }

    [Theory]
    [InlineData("")]
    [InlineData("10.1.5")]
    [InlineData("10.1.5.256")]
    [InlineData("10.1.5.1.2")]
    [InlineData("10.01.5.1")]
    [InlineData("10.1.5.1 ")]
    [InlineData("10..5.1")]
    [InlineData("a.b.c.d")]
    [InlineData("1000.1.1.1")]
    [InlineData("10.1.5.-1")]
    public void TryParseAddress_Invalid_ReturnsFalse(string text) => Assert.False(Ipv4Address.TryParse(text, out _));

    [Theory]
    [InlineData("10.1.5.1/24", 0x0A010501u, 24)]
    [InlineData("0.0.0.0/0", 0u, 0)]
    [InlineData("1.1.1.1/32", 0x01010101u, 32)]
    public void TryParsePrefix_Valid_ReturnsAddressAndLength(string text, uint expected, int length)
    {
        Assert.True(ConfigIpv4.TryParsePrefix(text, out uint address, out int l));
        Assert.Equal(expected, address);
        Assert.Equal(length, l);
    }

    [Theory]
    [InlineData("10.1.5.1/33")]
    [InlineData("10.1.5.1/")]
    [InlineData("10.1.5.1/-1")]
    [InlineData("10.1.5.1/024")]
    [InlineData("10.1.5.1")]
    [InlineData("10.1.5.1/24/2")]
    public void TryParsePrefix_Invalid_ReturnsFalse(string text) => Assert.False(ConfigIpv4.TryParsePrefix(text, out _, out _));

    /// <summary>Oracle: System.Net.IPAddress on random addresses from a fixed seed, both ways.</summary>
    [Fact]
    public void TryParseAddress_RandomAddresses_MatchesIPAddress()
    {
        var random = new Random(20261122);
        for (int i = 0; i < 10000; i++)
        {
            uint value = (uint)random.NextInt64(0, 1L << 32);
            string text = new IPAddress([(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value]).ToString();
            Assert.Equal(text, Ipv4Address.Format(value));
            Assert.True(Ipv4Address.TryParse(text, out uint parsed));
            Assert.Equal(value, parsed);
        }
    }

    [Fact]
    public void Contains_RandomPrefixes_MatchesBitwiseOracle()
    {
        var random = new Random(7);
        for (int i = 0; i < 10000; i++)
        {
            uint network = (uint)random.NextInt64(0, 1L << 32);
            uint address = random.Next(2) == 0 ? (uint)random.NextInt64(0, 1L << 32) : network ^ (uint)random.Next(0, 256);
            int length = random.Next(0, 33);
            bool expected = true;
            for (int bit = 31; bit > 31 - length; bit--) expected &= ((network >> bit) & 1) == ((address >> bit) & 1);
            Assert.Equal(expected, ConfigIpv4.Contains(network, length, address));
        }
    }
}
