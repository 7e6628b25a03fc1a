#!/usr/bin/env bash
# Installs what unikit needs on Debian 12 and builds it. Idempotent, and quick when everything
# is already there: apt-get runs only for missing packages, npm ci only when node_modules is
# missing or older than package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(qemu-system-x86 musl-tools busybox-static make gcc strace
  # npm run bench:net drives apps/httpd with wrk
  wrk
  # unikit bench compares against a runc container (runc 1.1.5 from Debian)
  runc
  # ... and runs the container and native cases under qemu-x86_64 too (TCG in user mode)
  qemu-user-static
  # ... and, where they can run, against crun and podman containers (Debian 12: crun 1.8.1, podman 4.3.1)
  crun podman
  # src/bench/report-browser.test.ts renders the bench report in headless Chromium (playwright-core)
  chromium
  # --net tap: the host's network fence (src/vmm/fence.ts) is nftables rules
  nftables
  # npm ci compiles better-sqlite3 with node-gyp when no prebuilt binary can be fetched
  g++ python3)
# The floor guest and the test stand-in guests are 32-bit PVH entries: gcc -m32 -c on assembly
# needs only binutils' i386 support, which Debian's binutils has.

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "== apt-get install ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "unikit: Node.js 20 or newer is needed; this is $(node --version)" >&2
  exit 1
fi

# npm ci when node_modules is missing or stale (npm records the tree it installed).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== npm ci"
  npm ci --no-audit --no-fund
fi

echo "== npm run build"
npm run build --silent
