/**
 * The decision log's own serializer (core/log/decision-line.ts) keeps the logger's guarantees:
 * registered secrets scrubbed and strings capped wherever they sit, redacted keys censored at
 * any depth, one parseable line per request, a hostile value falls back to pino instead of
 * losing the line or crashing the request.
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { logDecision } from '../../../core/log/decision-line.js'
import { registerSecret } from '../../../core/log/secret-registry.js'
import { MAX_LOGGED_STRING } from '../../../core/log/log-scrub.js'
import { captureLogs } from '../../helpers/log-capture.js'
import { trailSecret } from '../../helpers/secret-trail.js'

const record = (extra: Record<string, unknown> = {}) => ({
  reqId: 'abcd000001',
  context: { mac: '52:54:00:00:00:01', arch: 'x86_64-efi', params: {}, auth: { status: 'none' }, plugins: {}, dropped: [] },
  policies: [{ policy: '10-per-mac.ts', outcome: 'passed', us: 12 }],
  plugins: [],
  decidedBy: 'default',
  kind: 'exit',
  cached: false,
  cpuUs: 30,
  wallUs: 400,
  ...extra,
})

t.test('one JSON line, the request id once, the context once', async (t) => {
  const logs = captureLogs('info')
  logDecision(logs.logger.child({ reqId: 'abcd000001' }), 'info', record())
  t.equal(logs.lines.length, 1)
  const line = logs.lines[0]!
  t.equal(line.split('abcd000001').length - 1, 1, 'the request id appears once')
  t.equal(line.split('52:54:00:00:00:01').length - 1, 1, 'the MAC appears once')
  const r = logs.records()[0] as Record<string, any>
  t.match(r, { level: 30, service: 'bootpolicy', reqId: 'abcd000001', msg: 'decision', decision: { decidedBy: 'default', kind: 'exit', context: { mac: '52:54:00:00:00:01' } } })
  t.type(r.time, 'number')
})

t.test('levels: an error record is a warning; below the level nothing is written', async (t) => {
  const warn = captureLogs('warn')
  logDecision(warn.logger, 'info', record())
  t.equal(warn.lines.length, 0, 'info is below warn')
  logDecision(warn.logger, 'warn', record({ error: { code: 'BP_ERR_POLICY_THREW', message: 'x' } }))
  t.equal((warn.records()[0] as { level: number }).level, 40)
  const silent = captureLogs('silent')
  logDecision(silent.logger, 'warn', record())
  t.equal(silent.lines.length, 0)
})

t.test('hazard: a registered secret or a redacted key deep in a plugin fact reaches the decision log', async (t) => {
  const secret = `chap-${randomBytes(8).toString('hex')}`
  registerSecret(secret)
  trailSecret(secret)
  const logs = captureLogs('info')
  const facts = { inventory: { note: `account ${secret} made`, list: [`x${secret}`, { deeper: { password: 'hunter22', text: secret } }] }, [`key-${secret}`]: 1, chapSecret: 'plain-secret-value' }
  logDecision(logs.logger, 'info', record({ context: { ...record().context, plugins: facts }, error: { code: 'X', message: `failed with ${secret}` } }))
  t.equal(logs.lines.length, 1)
  const line = logs.lines[0]!
  t.notOk(line.includes(secret), 'no registered secret anywhere (values, keys, error message)')
  t.notOk(line.includes('hunter22'), 'a `password` key is censored at any depth')
  t.notOk(line.includes('plain-secret-value'), 'a `chapSecret` key too')
  t.match(line, /\[redacted\]/)
})

t.test('strings are capped; cycles and deep nesting end; odd values do not break the line', async (t) => {
  const logs = captureLogs('info')
  const cyclic: Record<string, unknown> = { name: 'loop' }
  cyclic.self = cyclic
  let deep: Record<string, unknown> = { end: true }
  for (let i = 0; i < 50; i++) deep = { deep }
  const facts = { big: 'A'.repeat(100_000), cyclic, deep, n: Number.NaN, inf: Infinity, b: 10n, f: () => 1, s: Symbol('x'), u: undefined, d: new Date(0), arr: [undefined, () => 1] }
  logDecision(logs.logger, 'info', record({ context: { ...record().context, plugins: facts } }))
  const r = logs.records()[0] as { decision: { context: { plugins: Record<string, any> } } }
  const p = r.decision.context.plugins
  t.ok(p.big.length < MAX_LOGGED_STRING + 100, `capped at ${p.big.length} characters`)
  t.match(p.big, /…\[truncated \d+ chars\]$/)
  t.match(JSON.stringify(p.cyclic), /\[too deep\]/, 'the cycle ends')
  t.match(JSON.stringify(p.deep), /\[too deep\]/)
  t.same([p.n, p.inf, p.b, p.d, p.arr], [null, null, '10', '1970-01-01T00:00:00.000Z', [null, null]])
  t.notOk('f' in p || 's' in p || 'u' in p, 'functions, symbols, undefined left out')
})

t.test('hazard: a hostile getter in a fact throws: the line is still written, the caller goes on', async (t) => {
  const logs = captureLogs('info')
  const hostile = {
    get boom(): string {
      throw new Error('getter')
    },
  }
  Object.defineProperty(hostile, 'boom', { enumerable: true })
  t.doesNotThrow(() => logDecision(logs.logger, 'info', record({ context: { ...record().context, plugins: { hostile } } })))
  t.equal(logs.lines.length, 1, 'a line was written')
  t.match(logs.records()[0], { msg: 'decision', decision: { context: '[unserializable]', decidedBy: 'default', kind: 'exit' } }, 'the other fields are there')
})
