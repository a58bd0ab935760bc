/**
 * A /boot server for bench/boot-state-lookup.ts, run as a child process, on the PostgreSQL state
 * backend (url and password file in argv). Modes:
 * - `without`: a pure policy (decides from the MAC alone), no intents armed: the baseline;
 * - `lookup`: a policy whose decision needs the machine's intent (`ctx.intent`, looked up by MAC
 *   on every /boot in the copy held fresh by LISTEN/NOTIFY), with `armed` intents armed first
 *   (one per 4 machines of the workload: those answers are never memoized whole).
 * Prints `{"port": N}` on stdout when it listens.
 */
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { validateConfig, PACKAGE_ROOT } from '../../core/config/load-config.js'
import { build } from '../../core/http/build-app.js'

const [mode = 'without', url, passwordFile, armed = '0'] = process.argv.slice(2)
const base = mkdtempSync(join(tmpdir(), 'bp-bench-state-'))
mkdirSync(join(base, 'policies'))
writeFileSync(
  join(base, 'policies', 'p.ts'),
  mode === 'lookup' ? `export default (ctx: any) => (ctx.intent ? { kind: 'shell' } : { kind: 'exit' })\n` : `export default (ctx: any) => (ctx.mac ? { kind: 'exit' } : undefined)\n`,
)
const config = validateConfig(
  {
    policies: { dir: join(base, 'policies'), watch: false },
    log: { level: 'silent' },
    // One load generator address stands for many machines: the per-address cap (32) would close the rest.
    http: { host: '127.0.0.1', port: 0, maxConnectionsPerAddress: 1000 },
    stateDir: join(base, 'var'),
    state: { backend: 'postgres', url, passwordFile },
  },
  PACKAGE_ROOT,
)
const bp = await build(config)
for (let n = 0; n < Number(armed); n += 4) {
  const mac = `52:54:00:${((n >> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}:00`
  await bp.runtime.lifecycle.arm({ machine: { by: 'mac', value: mac }, target: { profile: 'bench' }, note: '', expiresAt: Date.now() + 3_600_000 }, 'bench')
}
await bp.app.listen({ host: '127.0.0.1', port: 0 })
process.stdout.write(`${JSON.stringify({ port: (bp.app.server.address() as { port: number }).port })}\n`)
