#!/usr/bin/env node
// Entry point. isolated-vm needs --no-node-snapshot on Node 20: re-exec with it when missing,
// forwarding signals so that stopping this process stops the server. A SIGKILL of this wrapper
// cannot be forwarded: the child holds an IPC channel to it, whose end closing ('disconnect')
// tells the child its parent is gone, and the child then stops as on SIGTERM.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

if (!process.execArgv.includes('--no-node-snapshot')) {
  const child = spawn(process.execPath, ['--no-node-snapshot', ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, BOOTPOLICY_WRAPPED: '1' },
  })
  const forwarded = ['SIGINT', 'SIGTERM', 'SIGHUP']
  for (const signal of forwarded) process.on(signal, () => child.kill(signal))
  child.on('exit', (code, signal) => {
    if (signal) {
      // Die of the same signal, so a supervisor sees what happened. Our forwarding handler would
      // swallow it (and the process would then exit 0): remove it first.
      for (const s of forwarded) process.removeAllListeners(s)
      process.kill(process.pid, signal)
      setTimeout(() => process.exit(1), 1000).unref()
    } else process.exit(code ?? 1)
  })
} else {
  if (process.env.BOOTPOLICY_WRAPPED === '1' && process.channel) {
    delete process.env.BOOTPOLICY_WRAPPED // not for the processes the server starts
    process.channel.unref() // the channel alone must not keep a finished command alive
    process.on('disconnect', () => {
      process.kill(process.pid, 'SIGTERM')
      // A command without a SIGTERM handler has ended by now; a server that cannot stop is ended.
      setTimeout(() => process.exit(1), 10_000).unref()
    })
  }
  const built = new URL('../dist/core/cli/main.js', import.meta.url)
  if (!existsSync(built)) {
    process.stderr.write('bootpolicy: dist/ is missing; run `npm install` (or `npm run build`) first\n')
    process.exit(2)
  }
  const { main } = await import(built.href)
  // Exit explicitly: a handle left open by a failed start must not keep a dead server alive
  // (a supervisor restarts only what exits). stdout/stderr are synchronous for files and pipes on Linux.
  process.exit(await main(process.argv.slice(2)))
}
