namespace FastTun.Packets.Tests;

/// <summary>
/// Golden frames built independently of FastTun with scapy 2.5 (/usr/bin/python3) from the RFC layouts, on the
/// seed topology: gw1 eth2 aa:c1:ab:01:4b:7f 172.12.1.10 → gw2 eth2 aa:c1:ab:2c:67:36 172.12.1.11 carrying
/// server1 10.1.5.10 → server2 10.1.8.10 "ICMP echo request, id 2359, seq 1, length 64" forwarded once
/// (inner TTL 63, DF, ID 0x1c46). Outer headers as Linux sends them with default settings: TTL inherit (63),
/// tos 0, DF (pmtudisc), ID 0x1234; GRE key 42, first sequence number 0.
/// </summary>
public static class GoldenFrames
{
    public static byte[] Bytes(string hex) => Convert.FromHexString(hex);

    public static readonly byte[] Gw1Mac = Convert.FromHexString("aac1ab014b7f");
    public static readonly byte[] Gw2Mac = Convert.FromHexString("aac1ab2c6736");

    /// <summary>The seed frame is 118 bytes on the wire ("length 118" in its tcpdump). Every Ethernet frame below (InnerIcmpEcho is an IP packet and not listed).</summary>
    public static readonly string[] EthernetFrameNames =
        ["Ipip", "Gre", "GreKey", "GreCsum", "GreSeq", "GreKeyCsumSeq", "VlanArpRequest", "ArpReply", "TcpSyn", "Udp", "IcmpFragNeeded"];

    public static byte[] Get(string name) =>
        Bytes((string)(typeof(GoldenFrames).GetField(name)?.GetValue(null) ?? throw new ArgumentException(name)));

    public const string InnerIcmpEcho =
        "450000541c4640003f01fe4d0a01050a0a01080a08006ca8093700015f8a1c65000000003c5d0b000000000010111213" +
        "1415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637";
    public const string Ipip =
        "aac1ab2c6736aac1ab014b7f080045000068123440003f04cf30ac0c010aac0c010b450000541c4640003f01fe4d0a01" +
        "050a0a01080a08006ca8093700015f8a1c65000000003c5d0b0000000000101112131415161718191a1b1c1d1e1f2021" +
        "22232425262728292a2b2c2d2e2f3031323334353637";
    public const string Gre =
        "aac1ab2c6736aac1ab014b7f08004500006c123440003f2fcf01ac0c010aac0c010b00000800450000541c4640003f01" +
        "fe4d0a01050a0a01080a08006ca8093700015f8a1c65000000003c5d0b0000000000101112131415161718191a1b1c1d" +
        "1e1f202122232425262728292a2b2c2d2e2f3031323334353637";
    public const string GreKey =
        "aac1ab2c6736aac1ab014b7f080045000070123440003f2fcefdac0c010aac0c010b200008000000002a450000541c46" +
        "40003f01fe4d0a01050a0a01080a08006ca8093700015f8a1c65000000003c5d0b000000000010111213141516171819" +
        "1a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637";
    public const string GreCsum =
        "aac1ab2c6736aac1ab014b7f080045000070123440003f2fcefdac0c010aac0c010b8000080077ff0000450000541c46" +
        "40003f01fe4d0a01050a0a01080a08006ca8093700015f8a1c65000000003c5d0b000000000010111213141516171819" +
        "1a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637";
    public const string GreSeq =
        "aac1ab2c6736aac1ab014b7f080045000070123440003f2fcefdac0c010aac0c010b1000080000000000450000541c46" +
        "40003f01fe4d0a01050a0a01080a08006ca8093700015f8a1c65000000003c5d0b000000000010111213141516171819" +
        "1a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637";
    public const string GreKeyCsumSeq =
        "aac1ab2c6736aac1ab014b7f080045000078123440003f2fcef5ac0c010aac0c010bb000080047d500000000002a0000" +
        "0000450000541c4640003f01fe4d0a01050a0a01080a08006ca8093700015f8a1c65000000003c5d0b00000000001011" +
        "12131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637";
    public const string VlanArpRequest =
        "ffffffffffffaac1ab014b7f8100006408060001080006040001aac1ab014b7fac0c010a000000000000ac0c010b";
    public const string ArpReply =
        "aac1ab014b7faac1ab2c673608060001080006040002aac1ab2c6736ac0c010baac1ab014b7fac0c010a";
    public const string TcpSyn =
        "aac1ab2c6736aac1ab014b7f08004500003c04d24000400614d50a01050a0a01080a8c340050ec54dad600000000a002" +
        "faf0d5e00000020405b40402080afe2a043e0000000001030307";
    public const string Udp =
        "aac1ab2c6736aac1ab014b7f080045b8002300100000401158ed0a01050a0a01080a14e91e61000fef24666173747475" +
        "6e";
    public const string IcmpFragNeeded =
        "aac1ab014b7faac1ab2c6736080045c000380007000040011fd1ac0c010bac0c010a0304a9e3000005c44500006c1234" +
        "40003f2fcf01ac0c010aac0c010b0000080045000054";
}
