/**
 * The decision log writes a frozen value (a context) once, not per request (decision-line.ts):
 * its plain JSON while no secret is registered and the text needs nothing the walk would do,
 * else the walk's text, memoized until a secret is registered. The line must be exactly what the
 * walk writes for the same value unfrozen, whatever the value holds; and a secret registered
 * after a value was first logged is scrubbed from every later line. In its own process: the
 * fast path exists only while nothing is registered.
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { deepFreeze } from '../../../core/context/build-context.js'
import { logDecision } from '../../../core/log/decision-line.js'
import { hasSecrets, holdRequestSecret, registerSecret } from '../../../core/log/secret-registry.js'
import { captureLogs } from '../../helpers/log-capture.js'
import { trailSecret } from '../../helpers/secret-trail.js'

const base = { mac: '52:54:00:00:00:01', arch: 'x86_64-efi', remoteAddress: '127.0.0.1', params: {}, auth: { status: 'none' }, plugins: {}, dropped: [] }
const record = (context: object) => ({ reqId: 'abcd000001', context, policies: [], plugins: [], decidedBy: 'default', kind: 'exit', cached: false, cpuUs: 1, wallUs: 2 })

function decisionOf(context: object): string {
  const logs = captureLogs('info')
  logDecision(logs.logger, 'info', record(context))
  return JSON.stringify((logs.records()[0] as { decision: unknown }).decision)
}

function nested(levels: number): Record<string, unknown> {
  let v: Record<string, unknown> = { end: 1 }
  for (let i = 0; i < levels; i++) v = { v }
  return v
}

/** Values whose plain JSON differs from what the walk writes, and plain ones; each built twice (frozen, not). */
const cases: Record<string, () => object> = {
  plain: () => ({ ...base, serial: 'SN1', params: { instance: 'a' } }),
  'a password key deep in a fact': () => ({ ...base, plugins: { inv: { list: [{ password: 'hunter22' }] } } }),
  'a secret key': () => ({ ...base, plugins: { x: { secret: 's3cr3t-value' } } }),
  'chapSecret and credentials keys': () => ({ ...base, plugins: { a: { chapSecret: 'c' }, b: { credentials: 'd' } } }),
  'a string past the cap': () => ({ ...base, plugins: { big: 'A'.repeat(5000) } }),
  'a long text made of short strings': () => ({ ...base, plugins: { many: Array.from({ length: 400 }, (_, i) => `item-${i}`) } }),
  'nesting at the depth limit': () => ({ ...base, plugins: nested(4) }),
  'nesting past the depth limit': () => ({ ...base, plugins: nested(7) }),
  'brackets inside strings': () => ({ ...base, serial: '[[[[[[[[{{{{{{{{' }),
  'a bigint': () => ({ ...base, plugins: { n: 10n } }),
  'odd numbers and values': () => ({ ...base, plugins: { nan: Number.NaN, inf: -Infinity, neg: -0, u: undefined, f: () => 1, arr: [undefined, () => 1, Symbol('s')] } }),
  'a Date and a toJSON': () => ({ ...base, plugins: { d: new Date(0), t: { toJSON: () => ({ password: 'from-tojson', ok: 1 }) } } }),
  'quotes, escapes and lone surrogates': () => ({ ...base, serial: 'a"b\\c\u0001\ud800', plugins: { 'k"ey': 'v' } }),
  'a cycle': () => {
    const c: Record<string, unknown> = { name: 'loop' }
    c.self = c
    return { ...base, plugins: { c } }
  },
}

t.test('a frozen value is written exactly as the walk writes it unfrozen', async (t) => {
  t.notOk(hasSecrets(), 'no secret registered yet: the fast path is live')
  for (const [name, make] of Object.entries(cases)) {
    const walked = decisionOf(make())
    const frozen = deepFreeze(make())
    t.equal(decisionOf(frozen), walked, `${name}: first line`)
    t.equal(decisionOf(frozen), walked, `${name}: memoized line`)
  }
  t.notOk(decisionOf(deepFreeze(cases['a password key deep in a fact']!())).includes('hunter22'), 'censored keys stay censored')
})

t.test('a frozen value is serialized once across log lines (the memo is used)', async (t) => {
  let reads = 0
  const counted = { ...base, plugins: {} as Record<string, unknown> }
  Object.defineProperty(counted.plugins, 'probe', {
    enumerable: true,
    get: () => {
      reads++
      return 'value'
    },
  })
  deepFreeze(counted)
  reads = 0 // deepFreeze read it too
  for (let i = 0; i < 5; i++) t.match(decisionOf(counted), /"probe":"value"/)
  t.equal(reads, 1, 'the getter ran once for five lines')
})

t.test('hazard: a secret registered after a frozen value was logged is scrubbed from the next line', async (t) => {
  const trusted = `chap-${randomBytes(8).toString('hex')}`
  const password = `pw-${randomBytes(8).toString('hex')}`
  trailSecret(trusted)
  trailSecret(password)
  const ctx = deepFreeze({ ...base, serial: `S-${trusted}`, plugins: { note: { text: `said ${password}` } } })
  t.match(decisionOf(ctx), trusted, 'before registration the value is logged as it is')
  registerSecret(trusted)
  const after = decisionOf(ctx)
  t.notOk(after.includes(trusted), 'a plugin secret registered since: scrubbed')
  t.match(after, /\[redacted\]/)
  t.match(after, password)
  const release = holdRequestSecret(password)
  t.notOk(decisionOf(ctx).includes(password), 'a client password held since: scrubbed')
  release()
  t.notOk(decisionOf(ctx).includes(password), 'and after its backend call ended')
})
