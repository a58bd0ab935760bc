#!/usr/bin/env node
// Entry point. isolated-vm needs --no-node-snapshot on Node 20: re-exec with it when missing,
// forwarding signals so that stopping this process stops the server.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

if (!process.execArgv.includes('--no-node-snapshot')) {
  const child = spawn(process.execPath, ['--no-node-snapshot', ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' })
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal))
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal)
    else process.exit(code ?? 1)
  })
} else {
  const built = new URL('../dist/core/cli/main.js', import.meta.url)
  if (!existsSync(built)) {
    process.stderr.write('bootpolicy: dist/ is missing; run `npm install` (or `npm run build`) first\n')
    process.exit(2)
  }
  const { main } = await import(built.href)
  process.exitCode = await main(process.argv.slice(2))
}
