#!/bin/sh
# Regenerates abi/syscalls.tsv (number <TAB> name) from the host's Linux UAPI header.
# The list is a fact of the Linux x86-64 ABI; it is committed so builds need no header.
set -eu
hdr=${1:-/usr/include/x86_64-linux-gnu/asm/unistd_64.h}
out=$(dirname "$0")/../../abi/syscalls.tsv
sed -n 's/^#define __NR_\([a-z0-9_]*\) \([0-9]*\)$/\2\t\1/p' "$hdr" | sort -n > "$out"
echo "wrote $(wc -l < "$out") syscalls to $out"
