/**
 * auth-pam against real PAM: a real local user and a private PAM service (pam_unix auth +
 * account), created and removed by the test. Good password, wrong password, unknown user,
 * expired account (refused by the account phase), groups, a missing service file, and the
 * concurrency limit that keeps failed logins from stalling the libuv pool.
 */
import t from 'tap'
import { stat } from 'node:fs/promises'
import { build } from '../../../core/http/build-app.js'
import { createPamUser } from '../../../test/helpers/pam-user.js'
import { tempPolicies } from '../../../test/helpers/policy-dir.js'
import { parseScript } from '../../../test/helpers/ipxe-tokenize.js'

const AUTH_POLICY = `export default (ctx: any) => ({ kind: 'exit', message: JSON.stringify(ctx.auth) })`
const shown = (body: string): Record<string, unknown> =>
  JSON.parse(
    parseScript(body)
      .commands.find((c) => c.argv[0] === 'echo')
      ?.argv.slice(1)
      .join(' ') ?? 'null',
  ) as Record<string, unknown>
const hex = (s: string): string => (Buffer.from(s).toString('hex').match(/../g) ?? []).join(':')
const login = (username: string, password: string): string => `/boot?username_hex=${hex(username)}&password_hex=${hex(password)}`

/** A real local user with its PAM service, and bootpolicy with auth-pam on it; all removed afterwards. */
async function pamApp(t: { teardown(fn: () => unknown): void }) {
  const user = createPamUser()
  t.teardown(() => user.remove())
  const dir = tempPolicies({ 'p.ts': AUTH_POLICY })
  t.teardown(() => dir.remove())
  const bp = await build(dir.config({ plugins: [{ name: 'auth-pam', options: { service: user.service } }] }))
  t.teardown(() => bp.close())
  return { user, bp }
}

t.test('real PAM: good, wrong, unknown, expired', async (t) => {
  const { user, bp } = await pamApp(t)

  const ok = shown((await bp.app.inject(login(user.username, user.password))).body)
  t.match(ok, { status: 'authenticated', username: user.username, principal: { name: user.username, source: 'auth-pam' } })
  const groups = (ok.principal as { groups: string[] }).groups
  t.ok(groups.includes(user.group) && groups.includes(user.username), `groups from the system: ${groups.join(' ')}`)

  const t0 = performance.now()
  const wrong = shown((await bp.app.inject(login(user.username, 'not-the-password'))).body)
  t.same(wrong, { status: 'failed', username: user.username, reason: 'unknown user or wrong password' })
  t.ok(performance.now() - t0 > 1000, 'pam_unix delays a refusal (~2 s)')

  const unknown = shown((await bp.app.inject(login('bpt-nobody-here', 'whatever'))).body)
  t.same(unknown, { status: 'failed', username: 'bpt-nobody-here', reason: 'unknown user or wrong password' }, 'unknown user: same words as a wrong password')

  user.expire()
  const expired = shown((await bp.app.inject(login(user.username, user.password))).body)
  t.same(expired, { status: 'failed', username: user.username, reason: 'account expired' }, 'the account phase refuses an expired account')
})

t.test('a Kerberos-style name is not a local account: passed on, not refused', async (t) => {
  const { user, bp } = await pamApp(t)
  const res = shown((await bp.app.inject(login(`${user.username}@EXAMPLE.ORG`, user.password))).body)
  t.same(res, { status: 'failed', username: `${user.username}@EXAMPLE.ORG`, reason: 'unknown user or wrong password' })
})

t.test('a missing PAM service file fails at start, naming the file', async (t) => {
  const dir = tempPolicies({ 'p.ts': AUTH_POLICY })
  t.teardown(() => dir.remove())
  await t.rejects(build(dir.config({ plugins: [{ name: 'auth-pam', options: { service: 'bootpolicy-test-does-not-exist' } }] })), {
    code: 'BP_ERR_PLUGIN_HOOK',
    message: /\/etc\/pam\.d\/bootpolicy-test-does-not-exist does not exist/,
  })
  await t.rejects(build(dir.config({ plugins: [{ name: 'auth-pam', options: { service: '../shadow' } }] })), { code: 'BP_ERR_PLUGIN_OPTIONS' })
})

/** Max latency of fs.stat calls issued every 20 ms while `load` runs. */
async function fsLatencyDuring(load: Promise<unknown>): Promise<number> {
  let done = false
  void load.finally(() => {
    done = true
  })
  let worst = 0
  while (!done) {
    const t0 = performance.now()
    await stat('/')
    worst = Math.max(worst, performance.now() - t0)
    await new Promise((r) => setTimeout(r, 20))
  }
  return worst
}

t.test('failed logins cannot stall the libuv pool: measured with and without the limit', async (t) => {
  const user = createPamUser()
  t.teardown(() => user.remove())
  const pam = ((await import('node-linux-pam')) as unknown as { default: { pamAuthenticatePromise(o: object): Promise<number> } }).default
  const pool = Number(process.env.UV_THREADPOOL_SIZE ?? 4)
  const wrong = () => pam.pamAuthenticatePromise({ username: user.username, password: 'wrong', serviceName: user.service }).catch(() => undefined)

  const unlimited = await fsLatencyDuring(Promise.all(Array.from({ length: pool }, wrong)))
  t.ok(unlimited > 1000, `without a limit, ${pool} failed logins stall fs.stat for ${Math.round(unlimited)} ms`)

  const dir = tempPolicies({ 'p.ts': AUTH_POLICY })
  t.teardown(() => dir.remove())
  const bp = await build(dir.config({ plugins: [{ name: 'auth-pam', options: { service: user.service, concurrency: 2 } }] }))
  t.teardown(() => bp.close())
  // Distinct usernames and spoofed addresses are not needed: 8 < the per-address limit.
  const logins = Promise.all(Array.from({ length: 8 }, (_, i) => bp.app.inject(login(`${user.username}`, `wrong-${i}`))))
  const limited = await fsLatencyDuring(logins)
  // The stall without a limit is over 1 s (PAM's fail delay holds every pool thread); the bound is
  // that, not a speed: a loaded host's worst stat of hundreds reached 200 ms by itself.
  t.ok(limited < 1000, `with concurrency 2, fs.stat is never stalled during 8 failed logins: worst ${Math.round(limited)} ms`)
  const reasons = (await logins).map((r) => shown(r.body).reason)
  t.ok(
    reasons.every((r) => r === 'unknown user or wrong password' || r === 'authentication service unavailable' || /^too many (failed attempts|login attempts in progress)/.test(String(r))),
    reasons.join(', '),
  )
})
