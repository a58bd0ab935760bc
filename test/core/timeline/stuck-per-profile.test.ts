/**
 * Stuck detection per intent profile (timeline.stuckAfterMsByProfile): a listed profile's installer
 * boot is stuck after its own limit, any other after timeline.stuckAfterMs; machines, the
 * bootpolicy_machines gauge and the BPWRN012 line use that limit. Through the real app too: the
 * config reaches the runtime's timeline and /metrics (a real clock, a generous wait).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { loadConfig } from '../../../core/config/load-config.js'
import { build } from '../../../core/http/build-app.js'
import type { IntentRecord, IntentTarget } from '../../../core/lifecycle/intent-types.js'
import { machinesGauge } from '../../../core/timeline/machines-gauge.js'
import { recordLifecycle } from '../../../core/timeline/record-lifecycle.js'
import { Timeline } from '../../../core/timeline/timeline.js'
import { captureLogs } from '../../helpers/log-capture.js'
import { tempPolicies } from '../../helpers/policy-dir.js'

const MIN = 60_000

function installing(tl: Timeline, mac: string, target: IntentTarget, now: number): void {
  const intent: IntentRecord = {
    id: `i-${mac}`,
    machine: { by: 'mac', value: mac },
    target,
    note: '',
    expiresAt: now + 24 * 60 * MIN,
    setBy: 'admin token',
    setAt: now,
    state: 'armed',
    tokensIssued: 1,
    token: { hash: 'h'.repeat(64), mac, issuedAt: now },
  }
  recordLifecycle(tl, { type: 'token-issued', intent })
}

t.test('each installer boot is stuck after its profile’s limit; unlisted and decision targets use the default', async (t) => {
  let now = 1_000_000
  const logs = captureLogs()
  const stuck: [string, string | undefined][] = []
  const tl = new Timeline({
    maxMachines: 100,
    eventsPerMachine: 16,
    flushMs: 0,
    stuckAfterMs: 60 * MIN,
    stuckAfterMsByProfile: { quick: 5 * MIN, windows: 180 * MIN },
    now: () => now,
    logger: logs.logger,
    onStuck: (id, profile) => stuck.push([id, profile]),
  })
  t.teardown(() => tl.close())
  const macs = { quick: '52:54:00:5c:00:01', windows: '52:54:00:5c:00:02', other: '52:54:00:5c:00:03', decision: '52:54:00:5c:00:04', proto: '52:54:00:5c:00:05' }
  installing(tl, macs.quick, { profile: 'quick' }, now)
  installing(tl, macs.windows, { profile: 'windows' }, now)
  installing(tl, macs.other, { profile: 'debian' }, now)
  installing(tl, macs.decision, { decision: { kind: 'exit' } }, now)
  // A profile named like an Object.prototype member is an unlisted profile, not a function-valued limit.
  installing(tl, macs.proto, { profile: 'constructor' }, now)
  const states = () => Object.fromEntries(Object.entries(macs).map(([k, mac]) => [k, tl.summary(mac)!.state]))

  now += 5 * MIN - 1
  t.same(tl.checkStuck(), [])
  now += 1
  t.same(tl.checkStuck(), [macs.quick], 'quick: 5 minutes')
  t.same(states(), { quick: 'stuck', windows: 'installing', other: 'installing', decision: 'installing', proto: 'installing' })
  now += 55 * MIN
  t.same(tl.checkStuck().sort(), [macs.other, macs.decision, macs.proto].sort(), 'the default hour for the rest')
  t.equal(tl.summary(macs.windows)!.state, 'installing', 'windows still within its 3 hours')
  t.match(machinesGauge(tl), /bootpolicy_machines\{state="stuck"\} 4\n/)
  t.match(machinesGauge(tl), /bootpolicy_machines\{state="installing"\} 1\n/)
  now += 120 * MIN
  t.same(tl.checkStuck(), [macs.windows])
  t.same(
    stuck.find(([id]) => id === macs.windows),
    [macs.windows, 'windows'],
  )

  const warned = logs.records().filter((r) => r.code === 'BPWRN012')
  t.equal(warned.length, 5, 'one line per machine')
  t.match(
    warned.find((r) => r.machine === macs.quick),
    { limitMs: 5 * MIN, profile: 'quick', sinceMs: 5 * MIN },
  )
  t.match(
    warned.find((r) => r.machine === macs.windows),
    { limitMs: 180 * MIN, profile: 'windows' },
  )
  t.match(
    warned.find((r) => r.machine === macs.decision),
    { limitMs: 60 * MIN },
  )
  t.notOk('profile' in warned.find((r) => r.machine === macs.decision)!, 'a decision target has no profile')
  const event = tl.events(macs.quick, { limit: 10 })!.events.at(-1)!
  t.match(event, { source: 'intent', type: 'stuck', fields: { limitMs: 5 * MIN, profile: 'quick' } })
})

t.test('a new installer boot under another profile takes that profile’s limit', async (t) => {
  let now = 0
  const tl = new Timeline({ maxMachines: 10, eventsPerMachine: 16, flushMs: 0, stuckAfterMs: 60 * MIN, stuckAfterMsByProfile: { quick: 5 * MIN }, now: () => now })
  t.teardown(() => tl.close())
  const mac = '52:54:00:5c:01:01'
  installing(tl, mac, { profile: 'quick' }, now)
  now += MIN
  installing(tl, mac, { decision: { kind: 'exit' } }, now)
  now += 10 * MIN
  t.same(tl.checkStuck(), [], 'the second boot is under the default hour')
  t.equal(tl.summary(mac)!.installProfile, undefined)
})

t.test('the config schema takes profile limits in the stuckAfterMs range and profile-shaped names only', async (t) => {
  const dir = tempPolicies()
  t.teardown(() => dir.remove())
  const file = join(dir.dir, 'site.json')
  writeFileSync(file, JSON.stringify({ timeline: { stuckAfterMsByProfile: { windows: 10_800_000 } } }))
  t.same(loadConfig({ file, env: {} }).timeline.stuckAfterMsByProfile, { windows: 10_800_000 })
  t.same(loadConfig({ env: {} }).timeline.stuckAfterMsByProfile, {}, 'default: none')
  for (const bad of [{ windows: 999 }, { windows: 604_800_001 }, { windows: '1h' }, { '-x': 5000 }, { 'a b': 5000 }, { __proto__x: 5000 }, { ['p'.repeat(65)]: 5000 }]) {
    writeFileSync(file, JSON.stringify({ timeline: { stuckAfterMsByProfile: bad } }))
    t.throws(() => loadConfig({ file, env: {} }), { code: 'BP_ERR_CONFIG_INVALID', message: /stuckAfterMsByProfile/ }, JSON.stringify(bad))
  }
})

t.test('through the app: a profile’s short limit makes its machine stuck on /metrics and in /api/machines', async (t: Test) => {
  const ADMIN = 'stuck-profile-admin-token-0123456789'
  const MAC = '52:54:00:5c:02:01'
  const dir = tempPolicies({
    'p.ts': `import { boot, exit, INTENT_TOKEN, policy } from 'bootpolicy/policy'
export default policy((ctx) => (ctx.intent ? boot('/files/vmlinuz', { args: ['bp.token=' + INTENT_TOKEN] }) : exit('disk')))
`,
  })
  t.teardown(() => dir.remove())
  const bp = await build(dir.config({ http: { adminToken: ADMIN }, stateDir: `${dir.dir}/var`, timeline: { stuckAfterMs: 3_600_000, stuckAfterMsByProfile: { quick: 1000 } } }))
  t.teardown(() => bp.close())
  const auth = { authorization: `Bearer ${ADMIN}` }
  const armed = await bp.app.inject({ method: 'PUT', url: '/api/intents', headers: auth, payload: { machine: `mac:${MAC}`, profile: 'quick', expiresInS: 3600 } })
  t.equal(armed.statusCode, 201, armed.body)
  const boot = await bp.app.inject(`/boot?mac=${MAC}&buildarch=x86_64&platform=pcbios`)
  t.match(boot.body, /bp\.token=[0-9a-f]{40}/)
  // The stuck check runs every second (a tenth of the shortest limit, at least 1 s); a loaded box may delay it.
  let metrics = ''
  for (const start = Date.now(); Date.now() - start < 60_000 && !/bootpolicy_machines_stuck_total 1\n/.test(metrics); await new Promise((r) => setTimeout(r, 250))) {
    metrics = (await bp.app.inject('/metrics')).body
  }
  t.match(metrics, /bootpolicy_machines_stuck_total 1\n/, 'the runtime’s stuck check flagged it (BPWRN012)')
  t.match(metrics, /bootpolicy_machines\{state="stuck"\} 1\n/)
  const timeline = (await bp.app.inject({ url: `/api/machines/${MAC}/timeline`, headers: auth })).json()
  t.equal(timeline.machine.state, 'stuck')
  t.match(timeline.events.at(-1), { source: 'intent', type: 'stuck', fields: { limitMs: 1000, profile: 'quick' } })
})
