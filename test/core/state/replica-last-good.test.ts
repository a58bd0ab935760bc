/**
 * The last good compiled policies shared by replicas on PostgreSQL: replica B starting while its
 * policy file is broken serves what replica A stored (by content hash); a blob whose content does
 * not match its hash is not served; with the files backend B shares nothing (its own stateDir).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { loadConfig } from '../../../core/config/load-config.js'
import { createRuntime, type Runtime } from '../../../core/runtime/create-runtime.js'
import type { StateBackend } from '../../../core/state/state-backend.js'
import { createDatabase } from '../../helpers/postgres.js'
import { filesBackend, pgBackend } from '../../helpers/state-backends.js'

t.setTimeout(300_000)

const GOOD = `export default (ctx: any) => (ctx.mac ? { kind: 'shell' } : { kind: 'exit' })\n`
const BROKEN = `export default (ctx: any) => ({ kind: 'shell' \n`

async function replica(t: Test, policy: string, state: StateBackend): Promise<Runtime> {
  const dir = mkdtempSync(join(tmpdir(), 'bp-lastgood-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'policies'))
  mkdirSync(join(dir, 'templates'))
  writeFileSync(join(dir, 'policies', 'p.ts'), policy)
  const config = join(dir, 'bootpolicy.json')
  writeFileSync(config, JSON.stringify({ policies: { dir: 'policies', workers: 1, watch: false }, templates: { dir: 'templates' }, stateDir: 'var', log: { level: 'silent' } }))
  const runtime = await createRuntime(loadConfig({ file: config }), { state, watch: false })
  t.teardown(() => runtime.close())
  return runtime
}

const boot = (r: Runtime) => r.engine.handle({ query: 'mac=52%3A54%3A00%3Aee%3A00%3A01', remoteAddress: '192.0.2.3', requestId: 'q' })

t.test('postgres: B starting with a broken policy file serves what A stored', async (t) => {
  const db = await createDatabase(t)
  const sa = await pgBackend(t, db)
  const a = await replica(t, GOOD, sa)
  t.equal((await boot(a)).record.kind, 'shell', 'A serves its good policy')
  const index = (await sa.get<{ policies: Record<string, { hash: string }> }>('policies/last-good'))?.value
  t.ok(index?.policies['p.ts'], 'A stored p.ts in the shared index')
  const b = await replica(t, BROKEN, await pgBackend(t, db))
  const res = await boot(b)
  t.equal(res.record.kind, 'shell', 'B serves the last good version A stored')
  t.equal(res.record.decidedBy, 'policy:p.ts')
  // /healthz and BPWRN009 name the source as the files backend does (docs/reference/http-api.md).
  t.same(
    b.policies.stale.map((s) => [s.policy, s.from]),
    [['p.ts', 'stateDir']],
    'reported as restored from the last-good store',
  )
})

t.test('postgres: a stored blob whose content does not match its hash is not served', async (t) => {
  const db = await createDatabase(t)
  const sa = await pgBackend(t, db)
  await replica(t, GOOD, sa)
  const hash = (await sa.get<{ policies: Record<string, { hash: string }> }>('policies/last-good'))!.value.policies['p.ts']!.hash
  const blob = (await sa.get<{ code: string }>(`policies/blob/${hash}`))!.value
  await sa.write(`policies/blob/${hash}`, { ...blob, code: `${blob.code}\n// tampered` })
  const b = await replica(t, BROKEN, await pgBackend(t, db))
  t.not((await boot(b)).record.decidedBy, 'policy:p.ts', 'the damaged blob is ignored')
})

t.test('files: replicas with their own stateDir share nothing', async (t) => {
  const state = await filesBackend(t)
  await replica(t, GOOD, state)
  const b = await replica(t, BROKEN, state)
  t.not((await boot(b)).record.decidedBy, 'policy:p.ts', 'B has no last good version of its own')
})
