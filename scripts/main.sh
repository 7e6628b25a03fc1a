#!/usr/bin/env bash
# Sets unikit up, then boots real unikernels: the hello test program and an unmodified
# Debian busybox, each in its own VM.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

unikit() { node dist/cli/unikit.js "$@"; }

echo
echo "== unikit run apps/build/hello"
unikit run apps/build/hello --time

echo
echo "== unikit build /bin/busybox --force (its kernel serves what busybox needs; calls it lacks are named), then run it: sh -c with builtins"
unikit build /bin/busybox --force -o build/busybox.unikit
unikit inspect build/busybox.unikit
set +e
unikit run build/busybox.unikit --time -- sh -c 'x=6; echo "busybox in a unikernel: $((x*7))"; exit 3'
status=$?
set -e
echo "(exit status $status, as on Linux)"
[ "$status" -eq 3 ]
