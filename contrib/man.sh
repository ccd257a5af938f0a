#!/usr/bin/env bash
# Writes fasttun(1) in roff on stdout from the --help of every command of the given fasttun binary, so the man
# page always matches the binary it is installed with.  Usage: contrib/man.sh PATH/TO/fasttun > fasttun.1
set -euo pipefail
bin=$1
commands=(run check "show interfaces" "show tunnels" "show routes" "show neighbors" "show stats" stats route neighbor
          tunnel reload "config show" capture diff gen sink "bench rfc2544" completion)
roff() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"; }
version=$("$bin" --version | awk '{print $2}')
echo ".TH FASTTUN 1 \"$(date -u +%Y-%m-%d)\" \"fasttun $version\" \"FastTun\""
echo ".SH NAME"
echo "fasttun \\- userspace IPIP/GRE gateway (AF_XDP / AF_PACKET)"
echo ".SH SYNOPSIS"
echo ".B fasttun"
echo "\\fICOMMAND\\fR [\\fIOPTIONS\\fR]"
echo ".SH DESCRIPTION"
echo ".nf"
"$bin" --help | roff
echo ".fi"
echo ".SH COMMANDS"
for c in "${commands[@]}"; do
  echo ".SS fasttun $c"
  echo ".nf"
  # shellcheck disable=SC2086 # the command words are meant to split
  "$bin" $c --help | roff
  echo ".fi"
done
echo ".SH FILES"
echo ".nf"
echo "/etc/fasttun/NAME.conf          configuration of fasttun@NAME.service"
echo "/run/fasttun/NAME/fasttun.sock  its control socket"
echo ".fi"
echo ".SH SEE ALSO"
echo "systemctl(1), journalctl(1), ip(8)"
