/**
 * Plugins reach the state backend through their setup API (`api.state`): the files backend by
 * default, the shared PostgreSQL backend with state.backend "postgres" — what a plugin on replica A
 * writes, the same plugin on replica B reads, and hears about.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { validateConfig } from '../../../core/config/load-config.js'
import { build } from '../../../core/http/build-app.js'
import type { StateBackend } from '../../../core/state/state-backend.js'
import { captureLogs } from '../../helpers/log-capture.js'
import { tempPolicies } from '../../helpers/policy-dir.js'
import { createDatabase } from '../../helpers/postgres.js'
import { pgSettings } from '../../helpers/state-backends.js'

t.setTimeout(300_000)

function keeper(dir: string): string {
  const file = join(dir, 'keeper.mjs')
  writeFileSync(
    file,
    `globalThis.__bpStates = []
    export default () => ({ name: 'keeper', version: '1.0.0', bootpolicy: '^0.1.0', setup: async (api) => { globalThis.__bpStates.push(api.state) } })`,
  )
  return file
}
const states = (): StateBackend[] => (globalThis as { __bpStates?: StateBackend[] }).__bpStates ?? []

t.test('setup gets the files backend by default', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default () => ({ kind: 'exit' })` })
  t.teardown(() => dir.remove())
  // A config that names no state (not dir.config(), which on the suite's postgres pass adds one): the default is files on both passes.
  const config = validateConfig(
    { policies: { dir: dir.policiesDir, watch: false }, templates: { dir: join(dir.dir, 'templates') }, log: { level: 'silent' }, plugins: [{ name: 'keeper', path: keeper(dir.dir) }] },
    dir.dir,
  )
  const bp = await build(config, { logger: captureLogs('info').logger })
  t.teardown(() => bp.close())
  const s = states().at(-1)!
  t.equal(s.kind, 'files')
  t.equal(s, bp.runtime.state, "the plugin got the runtime's backend")
  await s.write('keeper/x', { n: 1 })
  t.same(await s.read('keeper/x'), { n: 1 })
})

t.test('two replicas on PostgreSQL: a plugin on B reads what the plugin on A wrote, and hears the change', async (t) => {
  const db = await createDatabase(t)
  const dir = tempPolicies({ 'p.ts': `export default () => ({ kind: 'exit' })` })
  t.teardown(() => dir.remove())
  const config = dir.config({ plugins: [{ name: 'keeper', path: keeper(dir.dir) }], state: pgSettings(db) })
  const a = await build(config, { logger: captureLogs('info').logger })
  t.teardown(() => a.close())
  const onA = states().at(-1)!
  const b = await build(config, { logger: captureLogs('info').logger })
  t.teardown(() => b.close())
  const onB = states().at(-1)!
  t.not(onA, onB, 'each replica has its own backend')
  t.equal(onB.kind, 'postgres')
  const heard: (string | undefined)[] = []
  onB.subscribe('doc', (k) => heard.push(k))
  await onA.write('keeper/users/lab:alice', { disk: 'alice.qcow2' })
  t.same(await onB.read('keeper/users/lab:alice'), { disk: 'alice.qcow2' })
  for (let i = 0; i < 100 && !heard.includes('keeper/users/lab:alice'); i++) await sleep(20)
  t.ok(heard.includes('keeper/users/lab:alice'))
  t.equal(a.runtime.state, onA, "the plugin got its replica's runtime backend")
})
