#!/usr/bin/env bash
# Run the real-iPXE end-to-end tests (QEMU/TCG in private network namespaces). Needs root.
#   scripts/e2e-run.sh                                  # every test/e2e/*.test.ts
#   scripts/e2e-run.sh test/e2e/baseline-dnsmasq.test.ts   # one scenario
#   scripts/e2e-run.sh --quick                          # one BIOS boot per seed: test/e2e/seed-*.test.ts
#                                                       # with BOOTPOLICY_E2E_QUICK=1
# BOOTPOLICY_E2E_CACHE: payload cache (default /var/cache/bootpolicy-e2e)
# BOOTPOLICY_E2E_LOGS:  per-run logs (default $TMPDIR/bootpolicy-e2e; kept only for failed boots)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "e2e tests need root (network namespaces, taps)" >&2
  exit 1
fi
bash scripts/e2e-cleanup.sh
if [ "${1:-}" = "--quick" ]; then
  shift
  export BOOTPOLICY_E2E_QUICK=1
  if [ "$#" -eq 0 ]; then set -- test/e2e/seed-*.test.ts; fi
fi
if [ "$#" -eq 0 ]; then set -- test/e2e/*.test.ts; fi
exec npx tap --timeout 600 "$@"
