#!/usr/bin/env bash
# The seed topology (../shared/seeds/004_*.txt) in network namespaces:
#
#   server1 (net0 10.1.5.10/24) ── gw1 (eth1 | eth2) ══ gw2 (eth2 | eth1) ── server2 (net0 10.1.8.10/24)
#
# Usage: topology.sh up   [--prefix P] [--mode fasttun|kernel|vxlan] [--mtu N] [--offload on|off]
#        topology.sh down [--prefix P]
#        topology.sh status [--prefix P]
#
# Namespaces are named ${P}server1, ${P}gw1, ${P}gw2, ${P}server2 (default prefix "ft-"), so tests and the demo
# can run side by side with different prefixes.
#   --mode fasttun  (default) the gateways' kernel interfaces are up with NO IPv4 address, IPv6 off and
#                   ip_forward=0: FastTun owns them, and the kernel must not answer ARP/ICMP or forward.
#   --mode kernel   the kernel routes: gw addresses from the seed and static routes over the underlay (no
#                   tunnel: this kernel has no ipip/gre modules). The forwarding baseline.
#   --mode vxlan    kernel VXLAN (the only kernel tunnel here) carrying 1.1.1.0/24 between gw1 and gw2,
#                   with the seed's static routes via 1.1.1.2 / 1.1.1.1.
#   --mtu N         MTU of the gw1–gw2 underlay link (default 1500: tunnel MTU 1480 for ipip, 1476 for gre).
#   --underlay bridge  put a Linux bridge (namespace ${P}wire, bridge br0) between gw1:eth2 and gw2:eth2, as the
#                   seed's hand-built lab does. Frames on it can be captured even when both gateways use XDP
#                   (XDP and AF_XDP transmit bypass the packet taps on the gateways' own interfaces).
#                   Default: direct (one veth pair).
#   --offload off   turn off tx checksum/TSO/GSO on the servers' veths (see LAB-NOTES: frames then arrive
#                   with complete checksums and no super-frames). Default on.
set -euo pipefail

cmd=${1:-}; shift || true
prefix=ft- mode=fasttun mtu=1500 offload=on underlay=direct
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) prefix=$2; shift 2 ;;
    --mode) mode=$2; shift 2 ;;
    --mtu) mtu=$2; shift 2 ;;
    --offload) offload=$2; shift 2 ;;
    --underlay) underlay=$2; shift 2 ;;
    *) echo "topology.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
s1=${prefix}server1 g1=${prefix}gw1 g2=${prefix}gw2 s2=${prefix}server2 wire=${prefix}wire
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

down() {
  for ns in $s1 $g1 $g2 $s2 $wire; do
    if ip netns list | grep -qw "$ns"; then
      # Kill whatever still runs inside the namespace (a gateway, iperf3, tcpdump) before deleting it.
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
}

quiet_ipv6() { nsx "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1; }

up() {
  down
  for ns in $s1 $g1 $g2 $s2; do
    ip netns add "$ns"
    quiet_ipv6 "$ns"
    nsx "$ns" ip link set lo up
  done
  # Links named as in the seed: gw:eth1 ↔ server:net0, gw1:eth2 ↔ gw2:eth2.
  ip link add net0 netns "$s1" type veth peer name eth1 netns "$g1"
  ip link add net0 netns "$s2" type veth peer name eth1 netns "$g2"
  if [ "$underlay" = bridge ]; then
    ip netns add "$wire"
    quiet_ipv6 "$wire"
    nsx "$wire" ip link add br0 type bridge
    ip link add eth2 netns "$g1" type veth peer name gw1 netns "$wire"
    ip link add eth2 netns "$g2" type veth peer name gw2 netns "$wire"
    for p in gw1 gw2; do
      nsx "$wire" ip link set "$p" mtu "$mtu" master br0 up
    done
    nsx "$wire" ip link set br0 mtu "$mtu" up
  else
    ip link add eth2 netns "$g1" type veth peer name eth2 netns "$g2"
  fi
  for ns in $g1 $g2; do
    nsx "$ns" ip link set eth2 mtu "$mtu"
    nsx "$ns" ip link set eth1 up
    nsx "$ns" ip link set eth2 up
  done
  nsx "$s1" ip link set net0 up
  nsx "$s2" ip link set net0 up
  nsx "$s1" ip addr add 10.1.5.10/24 dev net0
  nsx "$s1" ip route replace default via 10.1.5.1
  nsx "$s2" ip addr add 10.1.8.10/24 dev net0
  nsx "$s2" ip route replace default via 10.1.8.1
  if [ "$offload" = off ]; then
    for ns in $s1 $s2; do nsx "$ns" ethtool -K net0 tx off tso off gso off >/dev/null 2>&1 || true; done
  fi
  case $mode in
    fasttun)
      for ns in $g1 $g2; do nsx "$ns" sysctl -qw net.ipv4.ip_forward=0; done ;;
    kernel|vxlan)
      nsx "$g1" ip addr add 10.1.5.1/24 dev eth1
      nsx "$g1" ip addr add 172.12.1.10/24 dev eth2
      nsx "$g2" ip addr add 10.1.8.1/24 dev eth1
      nsx "$g2" ip addr add 172.12.1.11/24 dev eth2
      for ns in $g1 $g2; do nsx "$ns" sysctl -qw net.ipv4.ip_forward=1; done
      if [ "$mode" = kernel ]; then
        nsx "$g1" ip route add 10.1.8.0/24 via 172.12.1.11
        nsx "$g2" ip route add 10.1.5.0/24 via 172.12.1.10
      else
        nsx "$g1" ip link add tun0 type vxlan id 42 local 172.12.1.10 remote 172.12.1.11 dstport 4789 dev eth2
        nsx "$g2" ip link add tun0 type vxlan id 42 local 172.12.1.11 remote 172.12.1.10 dstport 4789 dev eth2
        nsx "$g1" ip addr add 1.1.1.1/24 dev tun0
        nsx "$g2" ip addr add 1.1.1.2/24 dev tun0
        nsx "$g1" ip link set tun0 up
        nsx "$g2" ip link set tun0 up
        nsx "$g1" ip route add 10.1.8.0/24 via 1.1.1.2
        nsx "$g2" ip route add 10.1.5.0/24 via 1.1.1.1
      fi ;;
    *) echo "topology.sh: unknown mode $mode" >&2; exit 2 ;;
  esac
}

status() {
  for ns in $s1 $g1 $g2 $s2 $wire; do
    echo "== $ns"; nsx "$ns" ip -br addr 2>/dev/null || echo "(absent)"
  done
}

case $cmd in
  up) up ;;
  down) down ;;
  status) status ;;
  *) sed -n '2,27p' "$0" >&2; exit 2 ;;
esac
