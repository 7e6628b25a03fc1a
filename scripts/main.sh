#!/usr/bin/env bash
# Sets unikit up, then boots real unikernels: the hello test program, an unmodified
# Debian busybox, and apps/httpd serving a page over the network, each in its own VM.
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

echo
echo "== unikit run apps/build/httpd -p PORT:80: a web server in a unikernel serves a page, then stops on SIGTERM"
port=${UNIKIT_DEMO_PORT:-18080}
www=$(mktemp -d)
trap 'rm -rf "$www"' EXIT
echo "served by apps/httpd in a unikernel" >"$www/index.html"
# Not through the shell function: $! must be unikit's own process for the SIGTERM below.
node dist/cli/unikit.js run apps/build/httpd --file "$www:/www" -p "$port:80" -- 80 /www &
server=$!
page=""
for _ in $(seq 1 100); do
  page=$(busybox wget -q -O - "http://127.0.0.1:$port/index.html" 2>/dev/null) && break
  sleep 0.1
done
kill -TERM "$server"
set +e
wait "$server"
status=$?
set -e
echo "GET /index.html -> $page"
echo "(the server stopped with status $status)"
[ "$page" = "served by apps/httpd in a unikernel" ]
