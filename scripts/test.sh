#!/usr/bin/env bash
# The whole test suite: dependencies, type check, policy tests, unit/integration/e2e tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
echo "== type check"
npx tsc --noEmit -p .
echo "== policy tests (bootpolicy test over policies/)"
node bin/bootpolicy.js test
echo "== tap"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
npx tap ${TAP_ARGS:-} 'test/{core,e2e,policies}/**/*.test.ts' 'plugins/*/test/**/*.test.ts' | tee "$log" || status=$?
# One plain closing line with tap's assertion counts.
summary=$(grep -E '^# \{ total: [0-9]+' "$log" | tail -n 1 || true)
pass=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary")
fail=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary")
if [ -z "$summary" ] && [ "$status" -eq 0 ]; then status=1; fi
echo "tests: ${pass:-0} passed, ${fail:-0} failed"
exit "$status"
