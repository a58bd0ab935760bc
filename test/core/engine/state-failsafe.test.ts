/**
 * The /boot failsafe for decisions that need shared state, against a real PostgreSQL stopped with
 * `pg_ctl stop -m immediate` (a crash) and started again: a policy that reads `ctx.intent` gets the
 * retry script (never the default `exit`, never the held copy's answer), even when it catches the
 * throw; a pure policy keeps answering; a parallel burst during the outage; one error line per
 * outage and `bootpolicy_state_unavailable_total{what="boot"}` per refused boot; hostile client
 * values stay escaped; the database back, the right decision without a restart.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { loadConfig } from '../../../core/config/load-config.js'
import { createRuntime, type Runtime } from '../../../core/runtime/create-runtime.js'
import type { PostgresStateBackend } from '../../../core/state/postgres-backend.js'
import { captureLogs } from '../../helpers/log-capture.js'
import { createDatabase } from '../../helpers/postgres.js'
import { pgBackend } from '../../helpers/state-backends.js'
import { STATE_FAILSAFE_LOG, assertStateFailsafe, refusedBoots, waitFor } from '../../helpers/state-outage.js'

t.setTimeout(300_000)

const ARMED = '52:54:00:5f:00:01'
const OTHER = '52:54:00:5f:00:02'

function site(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'bp-state-failsafe-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'policies'))
  mkdirSync(join(dir, 'templates'))
  // Pure: decides from the request alone.
  writeFileSync(join(dir, 'policies', '10-pure.ts'), `export default (ctx: any) => (ctx.hostname === 'pure' ? { kind: 'exit' } : undefined)\n`)
  // Reads the intent; `sneaky` swallows what reading it throws and would answer exit.
  writeFileSync(
    join(dir, 'policies', '20-intent.ts'),
    `export default (ctx: any) => {
  // Presence tests decide on the intent without reading its value.
  if (ctx.hostname === 'presence') return 'intent' in ctx ? { kind: 'shell' } : { kind: 'exit' }
  if (ctx.hostname === 'keys') return Object.keys(ctx).includes('intent') ? { kind: 'shell' } : { kind: 'exit' }
  if (ctx.hostname === 'own') return Object.prototype.hasOwnProperty.call(ctx, 'intent') ? { kind: 'shell' } : { kind: 'exit' }
  let intent
  if (ctx.hostname === 'sneaky') { try { intent = ctx.intent } catch { intent = undefined } }
  else intent = ctx.intent
  return intent ? { kind: 'shell' } : { kind: 'exit' }
}\n`,
  )
  const config = join(dir, 'bootpolicy.json')
  writeFileSync(
    config,
    JSON.stringify({
      http: { port: 0, host: '127.0.0.1' },
      policies: { dir: 'policies', workers: 1, watch: false, onError: 'next' },
      templates: { dir: 'templates' },
      stateDir: 'var',
      log: { level: 'silent' },
    }),
  )
  return config
}

const boot = (r: Runtime, query: string, id = 'req1') => r.engine.handle({ query, remoteAddress: '192.0.2.9', requestId: id })
const q = (mac: string, more = '') => `mac=${encodeURIComponent(mac)}${more}`

t.test('database down: intent-dependent boots get the retry failsafe, pure ones answer; back: the right decision', async (t) => {
  const db = await createDatabase(t)
  const state = (await pgBackend(t, db)) as PostgresStateBackend
  const logs = captureLogs('info')
  const r = await createRuntime(loadConfig({ file: site(t) }), { state, watch: false, logger: logs.logger })
  t.teardown(() => r.close())
  await r.lifecycle.arm({ machine: { by: 'mac', value: ARMED }, target: { profile: 'p' }, note: '', expiresAt: Date.now() + 600_000 }, 'test')
  await waitFor('the intent to be seen', async () => (await boot(r, q(ARMED))).record.kind === 'shell')
  t.equal((await boot(r, q(OTHER))).record.kind, 'exit', 'no intent: exit')
  t.equal((await boot(r, q(OTHER, '&hostname=pure'))).record.kind, 'exit', 'pure policy')
  for (const how of ['presence', 'keys', 'own']) t.equal((await boot(r, q(OTHER, `&hostname=${how}`))).record.kind, 'exit', `no intent, tested by ${how}: exit`)

  await db.cluster.stop('immediate')
  t.teardown(() => (db.cluster.running ? undefined : db.cluster.start()))
  await waitFor('the change listener to notice', () => !state.listening)

  for (const [what, mac, query] of [
    ['armed machine', ARMED, q(ARMED)],
    ['machine without intent (one might be armed), answered from the cache before', OTHER, q(OTHER)],
    ['a policy that catches the throw', OTHER, q(OTHER, '&hostname=sneaky')],
    ["a policy that only asks 'intent' in ctx", OTHER, q(OTHER, '&hostname=presence')],
    ['a policy that lists the keys', OTHER, q(OTHER, '&hostname=keys')],
    ['a policy that asks hasOwnProperty', OTHER, q(OTHER, '&hostname=own')],
  ] as const) {
    const res = await boot(r, query)
    t.equal(res.record.kind, 'state-unavailable', `${what}: refused`)
    t.equal(res.record.error?.code, 'BP_ERR_STATE_UNAVAILABLE', `${what}: the code`)
    t.notOk(res.decision, `${what}: no decision`)
    assertStateFailsafe(t, res.script, mac)
  }
  t.equal((await boot(r, q(ARMED))).record.kind, 'state-unavailable', 'asked again: still refused')
  const pure = await boot(r, q(OTHER, '&hostname=pure'))
  t.equal(pure.record.kind, 'exit', 'a pure policy keeps answering')
  t.equal(pure.record.decidedBy, 'policy:10-pure.ts')

  // A parallel burst: 40 distinct machines that need the intents, 40 that do not.
  const before = refusedBoots(r.metrics)
  const burst = await Promise.all(
    Array.from({ length: 80 }, (_, i) => {
      const mac = `52:54:00:5f:1${(i >> 8) & 0xf}:${(i & 0xff).toString(16).padStart(2, '0')}`
      return boot(r, q(mac, i % 2 ? '&hostname=pure' : ''), `b${i}`)
    }),
  )
  t.same(
    burst.map((b) => b.record.kind),
    Array.from({ length: 80 }, (_, i) => (i % 2 ? 'exit' : 'state-unavailable')),
    'every state-dependent boot refused, every pure one answered',
  )
  t.equal(refusedBoots(r.metrics) - before, 40, 'each refused boot counted once')
  const waits = new Set(burst.filter((b) => b.record.kind === 'state-unavailable').map((b) => /\nsleep (\d+)\n/.exec(b.script)![1]))
  t.ok(waits.size > 3, `the waits are spread (${[...waits].sort().join(' ')}): fresh scripts, not one memoized body`)
  t.equal(refusedBoots(r.metrics), 40 + 7, 'what="boot" counts every refused boot of the outage (6 cases + 1 asked again, then the burst)')

  // Hostile client values: escaped in the retry URL, never a command.
  const hostile = await boot(r, q(OTHER, `&hostname=${encodeURIComponent('x;reboot ${net0/mac} || shell')}&serial=${encodeURIComponent('a b;reboot||shell')}`))
  t.equal(hostile.record.kind, 'state-unavailable')
  const url = assertStateFailsafe(t, hostile.script, OTHER)
  t.notMatch(hostile.script, /reboot|\|\|shell|\|\| shell/, 'no hostile text in the script')
  t.match(
    url,
    new RegExp(
      `&serial_hex=${Buffer.from('a b;reboot||shell')
        .toString('hex')
        .replace(/(..)(?!$)/g, '$1-')}(&|$)`,
    ),
    'the hostile serial comes back, hex-encoded',
  )

  const lines = logs.records().filter((l) => l.msg === STATE_FAILSAFE_LOG)
  t.equal(lines.length, 1, 'one error line for the whole outage')
  t.equal(lines[0]!.level, 50)
  t.match((lines[0]!.state as { code: string }).code, 'BP_ERR_STATE_UNAVAILABLE')
  t.notMatch(logs.lines.join('\n'), db.password, 'the password is never logged')

  await db.cluster.start()
  await waitFor('the armed machine to be decided again', async () => (await boot(r, q(ARMED))).record.kind === 'shell')
  t.equal((await boot(r, q(OTHER))).record.kind, 'exit', 'no intent: exit again')
  t.equal((await boot(r, q(OTHER, '&hostname=sneaky'))).record.kind, 'exit')
  t.ok(
    logs.records().some((l) => l.msg === 'boots that need shared state are decided again'),
    'the recovery is logged',
  )
  // A second outage logs again (one line per outage, not one per process).
  await db.cluster.stop('immediate')
  await waitFor('the listener to notice again', () => !state.listening)
  t.equal((await boot(r, q(ARMED))).record.kind, 'state-unavailable')
  t.equal(logs.records().filter((l) => l.msg === STATE_FAILSAFE_LOG).length, 2, 'the second outage has its line')
  await db.cluster.start()
  await waitFor('recovery after the second outage', async () => (await boot(r, q(ARMED))).record.kind === 'shell')
})
