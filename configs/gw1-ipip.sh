# gw1: IPIP tunnel tun0 to gw2, as iproute2 commands (the seed's manual lab, shared/seeds/004 part 2,
# with gw1's own addresses). iproute2's defaults apply: ttl inherit and tos 0, where VyOS passes ttl 255
# and tos inherit; add "ttl 255 tos inherit" to the ip tunnel line to get exactly gw1-ipip.conf.
ip link set eth1 up
ip addr add 10.1.5.1/24 dev eth1
ip link set eth2 up
ip addr add 172.12.1.10/24 dev eth2

ip tunnel add tun0 mode ipip remote 172.12.1.11 local 172.12.1.10
ip addr a 1.1.1.1/24 dev tun0
ip link set tun0 up
ip r a 10.1.8.0/24 via 1.1.1.2 dev tun0

# fasttun interface eth1 driver af_xdp
# fasttun interface eth2 driver af_xdp
