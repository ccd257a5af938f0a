using FastTun.Traffic;
using FastTun.Packets.Headers;
using FastTun.Packets.Routing;
using FastTun.TestFixtures;

namespace FastTun.Packets.Tests;

public class RouteFileTests
{
    [Fact]
    public void Write_ThenRead_RoundTripsRoutes()
    {
        Route4[] routes = SyntheticTable.Generate(2_000, seed: 61);
        string path = Path.Combine(Path.GetTempPath(), $"fasttun-routes-{Environment.ProcessId}.txt");
        try
        {
            RouteFile.Write(path, routes.Concat([new Route4(0, 0, 0), new Route4(uint.MaxValue, 32, Lpm4Table.MaxNextHop)]), "test table\nsecond line");
            List<Route4> back = RouteFile.Read(path);
            Assert.Equal(routes.Length + 2, back.Count);
            Assert.Equal(routes, back.Take(routes.Length));
            Assert.Equal(new Route4(uint.MaxValue, 32, Lpm4Table.MaxNextHop), back[^1]);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Read_CommentsBlankLinesAndTabs_Parsed()
    {
        const string text = "# header\n\n  10.1.5.0/24 1   # connected\n172.12.1.0/24\t2\n0.0.0.0/0 3\n   # indented comment\n";
        List<Route4> routes = RouteFile.Read(new StringReader(text));
        Assert.Equal([new Route4(0x0A010500, 24, 1), new Route4(0xAC0C0100, 24, 2), new Route4(0, 0, 3)], routes);
    }

    [Theory]
    [InlineData("10.1.5.0/24 1\n10.1.5.1/24 2\n", 2, "host bits")]
    [InlineData("10.1.5.0/24 1\n\n10.1.5.0/33 2\n", 3, "prefix length")]
    [InlineData("10.1.5.0 1\n", 1, "missing '/LEN'")]
    [InlineData("10.1.256.0/24 1\n", 1, "bad IPv4 address")]
    [InlineData("10.1.5/24 1\n", 1, "bad IPv4 address")]
    [InlineData("10.1.5.0/24\n", 1, "expected")]
    [InlineData("# c\n10.1.5.0/24 x\n", 2, "bad next hop")]
    [InlineData("10.1.5.0/24 4294967295\n", 1, "bad next hop")]
    [InlineData("10.1.5.0/24 1 2\n", 1, "bad next hop")]
    [InlineData("10.1.5.0/-1 1\n", 1, "prefix length")]
    public void Read_BadLine_ThrowsNamingLine(string text, int line, string problem)
    {
        var error = Assert.Throws<RouteFileException>(() => RouteFile.Read(new StringReader(text), "t.routes"));
        Assert.Equal(line, error.LineNumber);
        Assert.Contains($"t.routes:{line}:", error.Message);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void WriteDestinations_ThenRead_RoundTripsLittleEndian()
    {
        uint[] addresses = [0x0A010505, 0, uint.MaxValue, 0x01020304];
        string path = Path.Combine(Path.GetTempPath(), $"fasttun-dests-{Environment.ProcessId}.bin");
        try
        {
            RouteFile.WriteDestinations(path, addresses);
            byte[] raw = File.ReadAllBytes(path);
            Assert.Equal(new byte[] { 0x05, 0x05, 0x01, 0x0A }, raw[..4]);
            Assert.Equal(addresses, RouteFile.ReadDestinations(path));
            File.WriteAllBytes(path, new byte[7]);
            Assert.Throws<FormatException>(() => RouteFile.ReadDestinations(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void TryParseAddress_Malformed_ReturnsFalse()
    {
        foreach (string bad in new[] { "", "1.2.3", "1.2.3.4.5", "1..3.4", "1.2.3.", "01234.1.1.1", "1.2.3.a", " 1.2.3.4", "256.0.0.0" })
            Assert.False(Ipv4Address.TryParse(bad, out _), bad);
        Assert.True(Ipv4Address.TryParse("255.255.255.255", out uint all));
        Assert.Equal(uint.MaxValue, all);
        Assert.Equal("10.1.5.1", Ipv4Address.Format(0x0A010501));
    }
}

public class SyntheticTableTests
{
    [Fact]
    public void Generate_SameSeed_SameRoutes()
    {
        Assert.Equal(SyntheticTable.Generate(3_000, seed: 71), SyntheticTable.Generate(3_000, seed: 71));
        Assert.NotEqual(SyntheticTable.Generate(3_000, seed: 71), SyntheticTable.Generate(3_000, seed: 72));
    }

    [Fact]
    public void Generate_DefaultSize_DistinctPublicRoutesWithRequestedMix()
    {
        Route4[] routes = LpmTestSupport.FullTable.Value;
        Assert.Equal(SyntheticTable.DefaultPrefixCount, routes.Length);
        var perLength = new int[33];
        var distinct = new HashSet<(uint, int)>();
        foreach (Route4 r in routes)
        {
            Assert.True(r.IsValid);
            Assert.True(SyntheticTable.IsPublic(r.Prefix, r.Length), r.ToString());
            Assert.True(distinct.Add((r.Prefix, r.Length)), r.ToString());
            perLength[r.Length]++;
        }
        double Share(int from, int to) => 100.0 * perLength[from..(to + 1)].Sum() / routes.Length;
        Assert.InRange(Share(24, 24), 59.5, 60.5);
        Assert.InRange(Share(23, 23), 7.9, 8.1);
        Assert.InRange(Share(16, 16), 4.9, 5.1);
        Assert.InRange(Share(8, 15), 0.45, 0.55);
        Assert.InRange(Share(25, 32), 0.95, 1.05);
        Assert.Equal(0, Share(0, 7));
    }

    [Fact]
    public void Destinations_NinetyPercentInsideRoutes()
    {
        Route4[] routes = SyntheticTable.Generate(50_000, seed: 73);
        Lpm4Table table = Lpm4Table.Build(routes);
        uint[] destinations = SyntheticTable.Destinations(routes, 100_000, seed: 74);
        int routed = destinations.Count(a => table.Lookup(a) != Lpm4Table.NoRoute);
        Assert.InRange(routed, 90_000, 95_000);   // 90 % inside by construction + the random 10 % that hit
    }
}
