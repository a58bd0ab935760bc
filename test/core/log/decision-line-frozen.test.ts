/**
 * The decision log writes a sealed value (a context deepFreeze froze) once, not per request
 * (decision-line.ts); a value frozen only on top, a Date or a getter is written as it is now:
 * its plain JSON while no secret is registered and the text needs nothing the walk would do,
 * else the walk's text, memoized until a secret is registered. The line must be exactly what the
 * walk writes for the same value unfrozen, whatever the value holds; and a secret registered
 * after a value was first logged is scrubbed from every later line. In its own process: the
 * fast path exists only while nothing is registered.
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { buildContext, deepFreeze } from '../../../core/context/build-context.js'
import { isSealed } from '../../../core/context/deep-freeze.js'
import { frozenJson } from '../../../core/context/frozen-json.js'
import { logDecision } from '../../../core/log/decision-line.js'
import { hasSecrets, holdRequestSecret, registerSecret } from '../../../core/log/secret-registry.js'
import { captureLogs } from '../../helpers/log-capture.js'

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

t.test('a sealed value is serialized once across log lines (the memo is used)', async (t) => {
  const ctx = deepFreeze({ ...base, serial: 'ONCE' })
  // A spy, not a mock: counts how often the real JSON.stringify is handed this very context.
  const stringify = JSON.stringify
  let calls = 0
  JSON.stringify = ((v: unknown, ...rest: []) => {
    if (v === ctx) calls++
    return stringify(v, ...rest)
  }) as typeof JSON.stringify
  try {
    for (let i = 0; i < 5; i++) t.match(decisionOf(ctx), /"serial":"ONCE"/)
  } finally {
    JSON.stringify = stringify
  }
  t.equal(calls, 1, 'serialized once for five lines')
})

t.test('hazard: a value frozen only on top (a plugin fact) is not memoized: a change shows on the next line', async (t) => {
  const fact = Object.freeze({ list: [] as string[] })
  const ctx = Object.freeze({ ...base, plugins: Object.freeze({ inv: fact }) })
  t.match(decisionOf(ctx), /"list":\[\]/)
  fact.list.push('changed')
  t.match(decisionOf(ctx), /"list":\["changed"\]/, 'the second line shows the change')
  t.equal(frozenJson(fact), '{"list":["changed"]}', "and so does the policy runner's text")
})

t.test('hazard: deepFreeze descends into an object somebody else froze', async (t) => {
  const fact = Object.freeze({ list: [] as string[] })
  const ctx = deepFreeze({ ...base, plugins: { inv: fact } })
  t.ok(Object.isFrozen(fact.list), 'the inner array is frozen too')
  t.throws(() => fact.list.push('x'))
  t.match(decisionOf(ctx), /"list":\[\]/)
})

t.test('hazard: a frozen Date and a getter are written as they are now, not as first seen', async (t) => {
  const d = new Date(0)
  let n = 0
  const facts = {} as Record<string, unknown>
  Object.defineProperty(facts, 'probe', { enumerable: true, get: () => `read-${++n}` })
  const ctx = deepFreeze({ ...base, plugins: { d, facts } })
  const first = decisionOf(ctx)
  t.match(first, /1970-01-01T00:00:00\.000Z/)
  d.setTime(86_400_000) // a frozen Date's time still changes
  const second = decisionOf(ctx)
  t.match(second, /1970-01-02T00:00:00\.000Z/, 'the Date as it is now')
  t.not(second.match(/read-\d+/)?.[0], first.match(/read-\d+/)?.[0], 'the getter is read again')
})

t.test('hazard: a secret registered after a frozen value was logged is scrubbed from the next line', async (t) => {
  const trusted = `chap-${randomBytes(8).toString('hex')}`
  const password = `pw-${randomBytes(8).toString('hex')}`
  // Not trail secrets: the first line logs both on purpose, before they are registered; what must
  // be scrubbed afterwards is asserted here.
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

t.test('a context from buildContext is sealed (its text is memoized), and stays sealed through deepFreeze', async (t) => {
  const { context } = buildContext({
    query: new Map([
      ['mac', '52:54:00:00:00:01'],
      ['serial', 'SN1'],
      ['x', '1'],
    ]),
    remoteAddress: '127.0.0.1',
  })
  t.ok(isSealed(context), 'sealed by the builder')
  t.ok(isSealed(context.params) && isSealed(context.auth) && isSealed(context.dropped))
  const withFacts = deepFreeze({ ...context, plugins: { inv: Object.freeze({ list: ['a'] }) } })
  t.ok(isSealed(withFacts), 'a context with plain facts added is sealed by deepFreeze')
})
