#!/usr/bin/env bash
# npm run build: the TypeScript, the host tools, the guest kernel and the test programs.
# Every step runs even if an earlier one failed (so one broken part does not hide the state of
# the others); the script fails at the end, naming what failed.
set -uo pipefail
cd "$(dirname "$0")/.."

failed=()
step() {
  local name=$1
  shift
  echo "== $name"
  "$@" || failed+=("$name")
}

# The TypeScript, and the command users run as one bundled file: Node loads it about 15 ms
# faster than the ~25 modules of dist/src, which counts when the whole VM lives 30 ms.
step "tsc + bundle dist/cli/unikit.js" npm run --silent build:ts
mkdir -p build
step "tools/tscfreq" gcc -O2 -Wall -Wextra -o build/tscfreq tools/tscfreq.c
step "make -C kernel" make -C kernel --no-print-directory -j2
step "make -C apps" make -C apps --no-print-directory -j2

if [ ${#failed[@]} -gt 0 ]; then
  echo "unikit: build failed: ${failed[*]}" >&2
  exit 1
fi
