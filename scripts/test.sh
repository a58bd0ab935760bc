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
npx tap ${TAP_ARGS:-} 'test/{core,e2e,policies}/**/*.test.ts' 'plugins/*/test/**/*.test.ts'
