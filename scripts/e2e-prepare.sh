#!/usr/bin/env bash
# Build (or find in the cache) the e2e boot payload: kernel from Debian's linux-image .deb + busybox
# initramfs, in $BOOTPOLICY_E2E_CACHE (default /var/cache/bootpolicy-e2e). Safe to run repeatedly;
# CI can run it once and cache that directory. Prints the payload manifest.
set -euo pipefail
cd "$(dirname "$0")/.."
node --import tsx --input-type=module -e "
import { buildBootPayload } from './test/helpers/boot-payload.ts'
const started = performance.now()
const payload = await buildBootPayload()
console.log(JSON.stringify({ ...payload, ms: Math.round(performance.now() - started) }, null, 2))
"
