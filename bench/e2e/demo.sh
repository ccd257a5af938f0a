#!/usr/bin/env bash
# make demo: the seed topology (../shared/seeds/004) in network namespaces with FastTun as gw1 and gw2.
# Shows ping, traceroute and a TCP transfer from server1 to server2, and the encapsulated packets on the
# underlay decoded by tshark, first over IPIP and then over GRE; tears everything down, even when interrupted.
set -uo pipefail
cd "$(dirname "$0")/../.."
FASTTUN=${FASTTUN:-src/FastTun.Gateway/bin/Release/net10.0/fasttun}
P=${DEMO_PREFIX:-demo-}
WORK=$(mktemp -d /tmp/fasttun-demo.XXXXXX)
PIDS=()
FAILURES=0

bold() { printf '\033[1m%s\033[0m\n' "$*"; }
ok()   { printf '  \033[32mok\033[0m    %s\n' "$*"; }
bad()  { printf '  \033[31mFAIL\033[0m  %s\n' "$*"; FAILURES=$((FAILURES + 1)); }
step() { printf '  ->    %s\n' "$*"; }
indent() { sed 's/^/          /'; }
nsx() { local ns=$1; shift; ip netns exec "$P$ns" "$@"; }

cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  done
  PIDS=()
  bash bench/e2e/topology.sh down --prefix "$P" >/dev/null 2>&1
}
trap 'cleanup; rm -rf "$WORK"' EXIT
trap 'echo; echo "interrupted: cleaning up"; exit 130' INT TERM

[ -x "$FASTTUN" ] || { echo "demo: $FASTTUN not built (run make build)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespaces, XDP)" >&2; exit 1; }

wait_running() { # log file
  for _ in $(seq 150); do
    grep -q "running configs/" "$1" && return 0
    grep -qE "cannot start|invalid|crit" "$1" && return 1
    sleep 0.1
  done
  return 1
}

decode() { # pcap, mode: print the underlay frames the way the seed's tcpdump shows them, from tshark's fields
  tshark -r "$1" -Y icmp -T fields -E separator='|' -e ip.src -e ip.dst -e icmp.type -e icmp.ident -e icmp.seq -e ip.len \
      -e gre.key -e gre.sequence_number 2>/dev/null |
    awk -F'|' -v mode="$2" '{
      split($1, s, ","); split($2, d, ","); split($6, len, ",")
      type = ($3 == 8) ? "echo request" : ($3 == 0) ? "echo reply" : "type " $3
      icmp = sprintf("ICMP %s, id %d, seq %d, length %d", type, $4, $5, len[2] - 20)
      if (mode == "ipip") printf "%s > %s: %s > %s: %s (ipip-proto-4)\n", s[1], d[1], s[2], d[2], icmp
      else {
        opts = ""
        if ($7 != "") opts = opts sprintf(", key=0x%x", $7)
        if ($8 != "") opts = opts sprintf(", seq %d", $8)
        printf "%s > %s: GREv0%s, length %d: %s > %s: %s\n", s[1], d[1], opts, len[1] - 20, s[2], d[2], icmp
      }
    }'
}

run_mode() { # mode (ipip|gre), config suffix, title
  local mode=$1 suffix=$2 title=$3
  bold "== $title"
  bash bench/e2e/topology.sh up --prefix "$P" --underlay bridge --offload off >"$WORK/topology.log" 2>&1 \
    || { bad "topology: $(tail -1 "$WORK/topology.log")"; return; }
  ok "namespaces ${P}server1 ${P}gw1 ${P}gw2 ${P}server2, underlay bridge ${P}wire/br0 (host offloads off for AF_XDP)"
  for gw in gw1 gw2; do
    # ip netns exec execs the command, so $! is the gateway's own PID (a shell function would add a subshell).
    ip netns exec "$P$gw" "$FASTTUN" run --config "configs/$gw-$suffix.conf" --control-socket "$WORK/$gw.sock" \
      --log-level information >"$WORK/$gw.log" 2>&1 &
    PIDS+=($!)
  done
  for gw in gw1 gw2; do
    if wait_running "$WORK/$gw.log"; then
      ok "$gw: $(grep -o 'running .*' "$WORK/$gw.log" | head -1)"
      grep -E "tun0:|XDP program" "$WORK/$gw.log" | sed 's/^.*info: [a-z]*\[0\] *//' | indent
    else
      bad "$gw did not start:"; tail -5 "$WORK/$gw.log" | indent; cleanup; return
    fi
  done

  ip netns exec "${P}wire" tcpdump -i br0 -U -w "$WORK/underlay.pcap" 'ip proto 4 or ip proto 47' >/dev/null 2>&1 &
  local cap=$!
  sleep 0.5
  step "ping -c 3 10.1.8.10   (server1 -> server2)"
  nsx server1 ping -c 3 -i 0.3 -W 2 10.1.8.10 >"$WORK/ping.txt" 2>&1
  indent <"$WORK/ping.txt"
  if grep -q " 0% packet loss" "$WORK/ping.txt"; then ok "server1 pings server2 through tun0"; else bad "ping lost packets"; fi
  sleep 0.3
  kill -INT $cap 2>/dev/null; wait $cap 2>/dev/null

  step "fasttun show tunnels / show stats on gw1 (control socket)"
  "$FASTTUN" show tunnels --control-socket "$WORK/gw1.sock" 2>&1 | indent
  "$FASTTUN" show stats --control-socket "$WORK/gw1.sock" 2>&1 | sed -n '/^TUNNEL/,/^$/p' | indent
  if "$FASTTUN" show tunnels --control-socket "$WORK/gw1.sock" --json 2>/dev/null | grep -q '"tun0"'; then
    ok "gw1's counters: every ping crossed tun0 (encap and decap)"
  else bad "fasttun show tunnels failed"; fi

  step "traceroute -n 10.1.8.10"
  nsx server1 traceroute -n -q 1 -w 2 -m 5 10.1.8.10 >"$WORK/trace.txt" 2>&1
  indent <"$WORK/trace.txt"
  local hops
  hops=$(awk 'NR > 1 { print $2 }' "$WORK/trace.txt" | paste -sd' ')
  if [ "$hops" = "10.1.5.1 1.1.1.2 10.1.8.10" ]; then ok "hops 10.1.5.1, 1.1.1.2, 10.1.8.10: as the VyOS routers show them"
  else bad "traceroute hops were '$hops'"; fi

  step "iperf3 -c 10.1.8.10 -t 3   (TCP through the tunnel)"
  ip netns exec "${P}server2" iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
  local srv=$!
  sleep 0.5
  nsx server1 timeout 20 iperf3 -c 10.1.8.10 -p 5201 -t 3 -f m >"$WORK/iperf.txt" 2>&1
  kill $srv 2>/dev/null; wait $srv 2>/dev/null
  grep -E "sender|receiver" "$WORK/iperf.txt" | indent
  if grep -q receiver "$WORK/iperf.txt"; then ok "TCP transfer: $(awk '/receiver/ { print $7, $8 }' "$WORK/iperf.txt")"
  else bad "iperf3 failed: $(tail -2 "$WORK/iperf.txt")"; fi

  step "capture on the underlay (bridge ${P}wire/br0), decoded by tshark"
  decode "$WORK/underlay.pcap" "$mode" | head -6 | indent
  if decode "$WORK/underlay.pcap" "$mode" | grep -q "^172.12.1.10 > 172.12.1.11: .*10.1.5.10 > 10.1.8.10: ICMP echo request"; then
    ok "the underlay carries 172.12.1.10 > 172.12.1.11 with 10.1.5.10 > 10.1.8.10 inside, as in the seed's capture"
  else bad "no encapsulated echo request seen on the underlay"; fi
  step "the same frames as tcpdump prints them"
  tcpdump -nr "$WORK/underlay.pcap" 2>/dev/null | head -2 | cut -d' ' -f2- | indent

  cleanup
  if grep -q "stopped; interfaces released" "$WORK/gw1.log" && grep -q "stopped; interfaces released" "$WORK/gw2.log"; then
    ok "gw1 and gw2 stopped cleanly (SIGTERM), XDP programs detached, namespaces removed"
  else bad "a gateway did not stop cleanly"; fi
  echo
}

bold "FastTun demo: server1 10.1.5.10 -- gw1 == tun0 == gw2 -- server2 10.1.8.10 (../shared/seeds/004)"
echo "  configs: configs/gw1-ipip.conf, configs/gw2-ipip.conf, configs/gw1-gre.conf, configs/gw2-gre.conf"
echo "           (the seed's VyOS 'set' lines unchanged, plus 'set fasttun interface ethN driver af_xdp')"
echo
start=$SECONDS
run_mode ipip ipip "IPIP (RFC 2003): encapsulation 'ipip'"
run_mode gre gre "GRE (RFC 2784): encapsulation 'gre'"
if [ $FAILURES -eq 0 ]; then bold "demo passed in $((SECONDS - start)) s"; else bold "demo: $FAILURES check(s) failed"; fi
[ $FAILURES -eq 0 ]
