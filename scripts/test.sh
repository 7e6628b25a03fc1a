#!/usr/bin/env bash
# Sets unikit up, then runs every test: unit tests and real VMs under QEMU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

report=build/vitest-report.json
set +e
npm test -- --reporter=default --reporter=json --outputFile="$report"
status=$?
set -e
# One plain closing line, whatever the reporter printed above it.
if [ -f "$report" ]; then
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const skipped = r.numPendingTests + r.numTodoTests;
    console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
  ' "$report"
fi
exit $status
