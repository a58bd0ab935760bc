#!/usr/bin/env bash
# One-time (and after any merge) reformat of the whole tree with Biome (biome.jsonc), then the
# lint fixes Biome calls safe. `npm run lint` (scripts/test.sh) fails on any file this would change.
# Run it on a tree nobody else is editing: it touches most source files.
set -euo pipefail
cd "$(dirname "$0")/.."
npx biome check --write .
npx tsc --noEmit -p .
git status --short
