# Regenerates GoldenFrames.cs constants: /usr/bin/python3 GoldenFrames.gen.py (scapy 2.5). Kept for reproducibility.
from scapy.all import *
GW1='aa:c1:ab:01:4b:7f'; GW2='aa:c1:ab:2c:67:36'
payload = bytes([0x5f,0x8a,0x1c,0x65,0,0,0,0, 0x3c,0x5d,0x0b,0,0,0,0,0]) + bytes(range(0x10,0x38))  # Linux ping: 16-byte timeval + 0x10..0x37
inner = IP(src='10.1.5.10', dst='10.1.8.10', ttl=63, id=0x1c46, flags='DF', tos=0)/ICMP(type=8, id=2359, seq=1)/Raw(payload)
inner = IP(bytes(inner))
def outer(proto): return Ether(dst=GW2, src=GW1)/IP(src='172.12.1.10', dst='172.12.1.11', ttl=63, id=0x1234, flags='DF', proto=proto, tos=0)
frames = {}
frames['InnerIcmpEcho'] = bytes(inner)
frames['Ipip'] = bytes(outer(4)/inner)
def gre(c,k,s, key=42, seq=0):
    g = GRE(chksum_present=c, key_present=k, seqnum_present=s, proto=0x0800)
    if k: g.key = key
    if s: g.sequence_number = seq
    return bytes(outer(47)/g/inner)
frames['Gre'] = gre(0,0,0)
frames['GreKey'] = gre(0,1,0)
frames['GreCsum'] = gre(1,0,0)
frames['GreSeq'] = gre(0,0,1)
frames['GreKeyCsumSeq'] = gre(1,1,1)
# other headers
frames['VlanArpRequest'] = bytes(Ether(dst='ff:ff:ff:ff:ff:ff', src=GW1)/Dot1Q(vlan=100)/ARP(op=1, hwsrc=GW1, psrc='172.12.1.10', hwdst='00:00:00:00:00:00', pdst='172.12.1.11'))
frames['ArpReply'] = bytes(Ether(dst=GW1, src=GW2)/ARP(op=2, hwsrc=GW2, psrc='172.12.1.11', hwdst=GW1, pdst='172.12.1.10'))
frames['TcpSyn'] = bytes(Ether(dst=GW2, src=GW1)/IP(src='10.1.5.10', dst='10.1.8.10', ttl=64, id=0x4d2, flags='DF')/TCP(sport=35892, dport=80, seq=3964984022, flags='S', window=64240, options=[('MSS',1460),('SAckOK',b''),('Timestamp',(4264166462,0)),('NOP',None),('WScale',7)]))
frames['Udp'] = bytes(Ether(dst=GW2, src=GW1)/IP(src='10.1.5.10', dst='10.1.8.10', ttl=64, id=0x10, tos=0xb8)/UDP(sport=5353, dport=7777)/Raw(b'fasttun'))
frames['IcmpFragNeeded'] = bytes(Ether(dst=GW1, src=GW2)/IP(src='172.12.1.11', dst='172.12.1.10', ttl=64, id=7, tos=0xc0)/ICMP(type=3, code=4, nexthopmtu=1476)/Raw(bytes(outer(47)/GRE(proto=0x0800)/inner)[14:14+28]))
for k,v in frames.items():
    print(f'    public const string {k} =')
    h = v.hex()
    for i in range(0, len(h), 96):
        print(f'        "{h[i:i+96]}"' + (' +' if i+96 < len(h) else ';'))
