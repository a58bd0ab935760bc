#!/usr/bin/env node
// Entry point. isolated-vm needs --no-node-snapshot on Node 20: re-exec with it when missing.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

if (!process.execArgv.includes('--no-node-snapshot')) {
  const r = spawnSync(process.execPath, ['--no-node-snapshot', ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' })
  process.exit(r.status ?? 1)
}

const built = new URL('../dist/core/cli/main.js', import.meta.url)
if (!existsSync(built)) {
  process.stderr.write('bootpolicy: dist/ is missing; run `npm install` (or `npm run build`) first\n')
  process.exit(2)
}
const { main } = await import(built.href)
process.exitCode = await main(process.argv.slice(2))
