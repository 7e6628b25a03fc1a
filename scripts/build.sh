#!/usr/bin/env bash
# npm run build: the TypeScript, the host tools, the guest kernel and the test programs.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== tsc"
npx tsc -p tsconfig.json
chmod +x dist/src/cli/main.js

echo "== tools/tscfreq (host TSC frequency)"
mkdir -p build
gcc -O2 -Wall -Wextra -o build/tscfreq tools/tscfreq.c

for dir in kernel apps; do
  echo "== make -C $dir"
  make -C "$dir" --no-print-directory -j2
done
