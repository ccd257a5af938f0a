#!/usr/bin/env bash
# DPDK l3fwd (LPM mode) with its AF_XDP PMD: the baseline "userspace router on the same veths" row of
# bench/e2e/run.sh.
#
# Usage: l3fwd.sh build              build once (cached) and print the binary's path
#        l3fwd.sh routes DIR PORT    write DIR/r4.cfg (10.1.8.0/24 -> PORT, 10.1.5.0/24 -> the other port) and
#                                    an empty-ish DIR/r6.cfg; print nothing
#
# Build: the example sources of Debian's dpdk-doc package (/usr/share/dpdk/examples/l3fwd and ../common),
# compiled against libdpdk-dev, both installed with apt-get only when missing. The sources are copied to a
# build directory outside the repository (L3FWD_BUILD, default /var/tmp/fasttun-l3fwd) and patched there:
# l3fwd asks for RTE_ETH_RX_OFFLOAD_CHECKSUM, which the af_xdp (and af_packet) PMDs do not offer, and then
# refuses to start; the copy asks for no RX offload instead. Nothing of DPDK enters the repository.
#
# run.sh starts it as:
#   ip netns exec GW chrt -r 10 taskset -c 1 BIN -l 1 -n 1 --no-huge -m 256 --no-pci --file-prefix P \
#      --vdev net_af_xdp0,iface=eth1 --vdev net_af_xdp1,iface=eth2 -- -p 0x3 --config "(0,0,1),(1,0,1)" \
#      --parse-ptype --rule_ipv4 r4.cfg --rule_ipv6 r6.cfg --eth-dest 0,MAC --eth-dest 1,MAC
set -euo pipefail

BUILD=${L3FWD_BUILD:-/var/tmp/fasttun-l3fwd}
SRC=/usr/share/dpdk/examples

build() {
  local bin=$BUILD/l3fwd/build/l3fwd
  if [ -x "$bin" ]; then echo "$bin"; return 0; fi
  local missing=()
  for pkg in dpdk-doc libdpdk-dev pkg-config make gcc; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "l3fwd.sh: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
  fi
  [ -d "$SRC/l3fwd" ] || { echo "l3fwd.sh: $SRC/l3fwd missing after installing dpdk-doc" >&2; exit 1; }
  rm -rf "$BUILD"; mkdir -p "$BUILD"
  cp -r "$SRC/l3fwd" "$SRC/common" "$BUILD/"
  # Mask the RX checksum offload request (virtual PMDs have none); fail loudly if the source changed shape.
  grep -q '\.offloads = RTE_ETH_RX_OFFLOAD_CHECKSUM,' "$BUILD/l3fwd/main.c" \
    || { echo "l3fwd.sh: RX checksum offload request not found in main.c; patch needs updating" >&2; exit 1; }
  sed -i 's/\.offloads = RTE_ETH_RX_OFFLOAD_CHECKSUM,/.offloads = 0, \/* fasttun bench: no RX checksum offload on virtual PMDs *\//' \
    "$BUILD/l3fwd/main.c"
  make -C "$BUILD/l3fwd" -j2 >&2
  [ -x "$bin" ] || { echo "l3fwd.sh: build produced no $bin" >&2; exit 1; }
  echo "$bin"
}

routes() { # dir port-for-10.1.8.0/24
  local dir=$1 port=$2 other
  other=$((1 - port))
  printf 'R10.1.8.0/24 %d\nR10.1.5.0/24 %d\n' "$port" "$other" > "$dir/r4.cfg"
  printf 'R2001:db8::/64 %d\n' "$port" > "$dir/r6.cfg"
}

case ${1:-} in
  build) build ;;
  routes) routes "$2" "$3" ;;
  *) sed -n '2,9p' "$0" >&2; exit 2 ;;
esac
