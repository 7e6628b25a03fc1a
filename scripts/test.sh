#!/usr/bin/env bash
# Sets unikit up, then runs every test: unit tests and real VMs under QEMU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm test
