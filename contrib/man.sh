#!/usr/bin/env bash
# Writes fasttun(1) in roff on stdout from the --help of every command and subcommand of the given fasttun binary
# (found from the help itself), so the man page always matches the binary it is installed with.  Usage: contrib/man.sh PATH/TO/fasttun > fasttun.1
set -euo pipefail
bin=$1
# The command names listed under "Commands:" in a --help text (first word of each entry).
subcommands() { "$bin" "$@" --help | awk '/^Commands:/{on=1; next} on && /^[^ ]/{on=0} on && /^  [^ ]/ {sub(/,$/, "", $1); print $1}'; }
commands=()
for top in $(subcommands); do
  subs=$(subcommands "$top")
  if [ -n "$subs" ]; then for sub in $subs; do commands+=("$top $sub"); done; else commands+=("$top"); fi
done
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
