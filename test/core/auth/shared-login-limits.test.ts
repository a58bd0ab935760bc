/**
 * Login limits across replicas: two servers (build(), each with its own PostgreSQL state backend)
 * on one real PostgreSQL 15 database. A parallel burst spread over both is held to the limits as a
 * whole; a success on one resets the user on both; with the database gone logins fail closed
 * (and a pure policy still answers); when it is back they work again without a restart.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { build } from '../../../core/http/build-app.js'
import { parseScript } from '../../helpers/ipxe-tokenize.js'
import { captureLogs } from '../../helpers/log-capture.js'
import { tempPolicies } from '../../helpers/policy-dir.js'
import { createDatabase, startPostgres } from '../../helpers/postgres.js'
import { pgSettings } from '../../helpers/state-backends.js'
import { STATE_FAILSAFE_LOG } from '../../helpers/state-outage.js'

t.setTimeout(300_000)

const shown = (body: string): Record<string, unknown> =>
  JSON.parse(
    parseScript(body)
      .commands.find((c) => c.argv[0] === 'echo')
      ?.argv.slice(1)
      .join(' ') ?? 'null',
  ) as Record<string, unknown>

async function replicas(t: Tap) {
  const db = await createDatabase(t)
  const dir = tempPolicies({ 'p.ts': `export default (ctx: any) => ({ kind: 'exit', message: JSON.stringify(ctx.auth ?? null) })` })
  t.teardown(() => dir.remove())
  const file = join(dir.dir, 'slow.mjs')
  // A slow backend: a burst is in flight at once, on both replicas.
  writeFileSync(
    file,
    `globalThis.__bpSharedCalls = 0
    export default () => ({ name: 'slow', version: '1.0.0', bootpolicy: '^0.1.0', hooks: {
      authenticate: async (ctx, c) => {
        globalThis.__bpSharedCalls++
        await new Promise((r) => setTimeout(r, 150))
        return c.password === 'right' ? { principal: { name: c.username, groups: [], source: '' } } : { failed: 'wrong password' }
      } } })`,
  )
  const logs = captureLogs('info')
  const config = dir.config({ plugins: [{ name: 'slow', path: file }], state: pgSettings(db), http: { maxConnectionsPerAddress: 1000 } })
  const a = await build(config, { logger: logs.logger })
  t.teardown(() => a.close())
  const b = await build(config, { logger: logs.logger })
  t.teardown(() => b.close())
  const calls = (): number => (globalThis as { __bpSharedCalls?: number }).__bpSharedCalls ?? 0
  const as = async (bp: typeof a, u: string, p: string, from = '192.0.2.10') => shown((await bp.app.inject({ url: `/boot?username=${u}&password=${p}`, remoteAddress: from })).body)
  return { a, b, calls, as, logs }
}
type Tap = { teardown(fn: () => unknown): void }

t.test('a parallel burst for one user spread over two replicas reaches the backends at most perUser times', async (t) => {
  const { a, b, calls, as } = await replicas(t)
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) => as(i % 2 ? a : b, 'alice', 'guess', `192.0.2.${(i % 30) + 1}`)))
  t.equal(calls(), 5, `exactly perUser (5) guesses reached a backend, over both replicas: ${JSON.stringify(results.map((r) => r.reason))}`)
  t.equal(results.filter((r) => r.reason === 'wrong password').length, 5)
  t.equal(results.filter((r) => /too many/.test(String(r.reason))).length, 35)
  // The user stays limited on both, even with the right password.
  t.match(await as(a, 'alice', 'right', '192.0.2.99'), { status: 'failed', reason: /too many failed attempts|retry in/ })
  t.match(await as(b, 'alice', 'right', '192.0.2.98'), { status: 'failed', reason: /too many failed attempts|retry in/ })
  t.equal(calls(), 5)
})

t.test('one address guessing many usernames over two replicas is held to perAddress; a success on A resets the user on B', async (t) => {
  const { a, b, calls, as } = await replicas(t)
  const results = await Promise.all(Array.from({ length: 60 }, (_, i) => as(i % 2 ? a : b, `user${i}`, 'guess', '198.51.100.7')))
  t.equal(calls(), 20, 'perAddress (20) over both replicas')
  t.equal(results.filter((r) => /too many/.test(String(r.reason))).length, 40)

  const before = calls()
  for (let i = 0; i < 4; i++) await as(i % 2 ? a : b, 'bob', 'guess', `203.0.113.${i + 1}`)
  t.match(await as(a, 'bob', 'right', '203.0.113.50'), { status: 'authenticated' })
  // The shared window is reset: 5 fresh guesses (on A, whose own window the success reset too; B's
  // local window still holds its 2 failures, which only makes B stricter), then both refuse.
  for (let i = 0; i < 5; i++) t.match(await as(a, 'bob', 'guess', `203.0.113.${i + 60}`), { reason: 'wrong password' })
  t.match(await as(a, 'bob', 'guess', '203.0.113.70'), { reason: /too many/ })
  t.match(await as(b, 'bob', 'right', '203.0.113.71'), { reason: /too many/ }, 'B refuses too: the shared window is full')
  t.equal(calls() - before, 10)
})

t.test('state database down: logins fail closed with the retry failsafe and a loud line, pure policies answer; back: logins work', async (t) => {
  const { a, as, logs, calls } = await replicas(t)
  const pure = await a.app.inject('/boot?mac=52:54:00:00:00:01')
  t.equal(pure.statusCode, 200)
  const cluster = await startPostgres()
  await cluster.stop('immediate')
  t.teardown(() => (cluster.running ? undefined : cluster.start()))
  const before = calls()
  const login = await a.app.inject({ url: '/boot?username=carol&password=right', remoteAddress: '192.0.2.10' })
  t.equal(login.statusCode, 200)
  t.match(login.body, /^echo bootpolicy: this boot needs the shared state database, which cannot be reached right now\.$/m, 'the retry failsafe, not "authentication failed"')
  t.match(login.body, /^clear password$/m, "iPXE's copy of the password is cleared; the retry asks for the login again")
  t.notMatch(login.body, /password=|=right|right\b(?! now)/, 'the password is not carried into the retry')
  t.equal(calls() - before, 0, 'no authentication backend was asked')
  const again = await a.app.inject('/boot?mac=52:54:00:00:00:01')
  t.equal(again.statusCode, 200)
  const noReqId = (body: string) => body.replace(/^set bp-req \S+$/m, '')
  t.equal(noReqId(again.body), noReqId(pure.body), 'a pure policy answers as before (request id aside)')
  t.same(shown(again.body), { status: 'none' })
  t.ok(
    logs.records().some((l) => l.msg === STATE_FAILSAFE_LOG && l.level === 50),
    'an error line',
  )
  t.notMatch(JSON.stringify(logs.records()), /"right"|password=right/, 'no password in the log')
  const metrics = (await a.app.inject('/metrics')).body
  t.match(metrics, /^bootpolicy_state_unavailable_total\{what="login"\} 1$/m, 'a metric')
  t.match(metrics, /^bootpolicy_state_unavailable_total\{what="outage"\} 1$/m)
  await cluster.start()
  t.match(await as(a, 'carol', 'right'), { status: 'authenticated' }, 'recovered without a restart')
})
