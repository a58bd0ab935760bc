/**
 * Operator sessions through the real app (app.inject) with a real directory behind the login: the
 * ldap plugin against a throwaway slapd checks every password. An operator logs in, arms and clears
 * an intent (listed with by=operator:<user> and when), reads the machines API; a directory user not
 * on the list, a wrong password and a burst are refused; idle and logged-out sessions end; neither
 * the password nor the session token reaches a log line or another response; the admin token still
 * works. Last, two replicas on one PostgreSQL: a burst spread over both is held to the shared limits.
 */
import t, { type Test } from 'tap'
import { build, type Bootpolicy } from '../../../core/http/build-app.js'
import { captureLogs } from '../../helpers/log-capture.js'
import { tempPolicies } from '../../helpers/policy-dir.js'
import { createDatabase } from '../../helpers/postgres.js'
import { BASE_DN, startSlapd, type Slapd } from '../../helpers/slapd.js'
import { pgSettings } from '../../helpers/state-backends.js'

// Several full servers and a PostgreSQL cluster on a loaded 2-core machine.
t.setTimeout(600_000)

const ADMIN = 'operator-test-admin-token-0123456789'
const MAC = '52:54:00:bb:00:01'
const POLICY = `import { exit, policy } from 'bootpolicy/policy'
export default policy((ctx) => exit(ctx.intent?.profile === 'reinstall' ? 'reinstall' : 'local disk'))
`

let slapd: Slapd
t.before(async () => {
  slapd = await startSlapd()
})
t.teardown(() => slapd?.remove())

const ldap = () => ({ name: 'ldap', options: { url: slapd.url, bindDn: `uid={username},ou=people,${BASE_DN}` } })

async function server(t: Test, operators: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}) {
  const dir = tempPolicies({ 'p.ts': POLICY })
  t.teardown(() => dir.remove())
  const logs = captureLogs('debug')
  const { plugins = [ldap()], ...rest } = extra
  const bp = await build(
    dir.config({ http: { adminToken: ADMIN, maxConnectionsPerAddress: 1000, ...(operators && { operators }) }, stateDir: `${dir.dir}/var`, log: { level: 'debug' }, plugins, ...rest }),
    { logger: logs.logger },
  )
  t.teardown(() => bp.close())
  return { bp, logs }
}

const login = (bp: Bootpolicy, user: unknown, password: unknown, remoteAddress = '127.0.0.1') => bp.app.inject({ method: 'POST', url: '/api/login', payload: { user, password }, remoteAddress })
const as = (token: string) => ({ authorization: `Bearer ${token}` })

/** Every captured line and every given body is free of every given secret. */
function noSecrets(t: Test, texts: readonly string[], secrets: readonly string[]): void {
  const leaks = texts.filter((line) => secrets.some((s) => line.includes(s)))
  t.same(leaks, [], `no secret in ${texts.length} log lines and bodies`)
}

t.test('off: without an auth plugin, or with nobody listed, POST /api/login is refused', async (t) => {
  const { bp: noPlugin } = await server(t, { users: ['alice'] }, { plugins: [] })
  const res = await login(noPlugin, 'alice', slapd.users.alice.password)
  t.equal(res.statusCode, 404)
  t.match(res.json(), { code: 'BP_ERR_HTTP_LOGIN_DISABLED', message: /no auth plugin/ })
  const { bp: nobody } = await server(t, undefined)
  const res2 = await login(nobody, 'alice', slapd.users.alice.password)
  t.equal(res2.statusCode, 404, 'the default operators list is empty: no account of the directory may log in')
  t.match(res2.json(), { code: 'BP_ERR_HTTP_LOGIN_DISABLED', message: /names nobody/ })
  t.equal((await nobody.app.inject({ method: 'POST', url: '/api/logout', headers: as('bps_x') })).statusCode, 404)
  t.equal((await nobody.app.inject({ url: '/api/intents', headers: as(ADMIN) })).statusCode, 200, 'the admin token works as before')
  // Operators without any admin token: the operator API is on, the admin-only endpoint is not.
  const { bp: noAdmin } = await server(t, { users: ['alice'] }, { http: { operators: { users: ['alice'] } } })
  // Session tokens are not trail secrets: the trail keeps every response body, and the login
  // response carries its token by design. This file asserts them absent from logs and other bodies.
  const token: string = (await login(noAdmin, 'alice', slapd.users.alice.password)).json().token
  t.equal((await noAdmin.app.inject({ url: '/api/intents', headers: as(token) })).statusCode, 200, 'sessions work without http.adminToken')
  t.equal((await noAdmin.app.inject({ url: '/api/intents', headers: as(ADMIN) })).statusCode, 401)
  t.equal((await noAdmin.app.inject({ method: 'POST', url: '/api/explain', headers: as(token), payload: {} })).statusCode, 404, 'explain stays off')
})

t.test('an operator logs in, arms and clears an intent, reads machines; by=operator:<user> with when', async (t) => {
  const { bp, logs } = await server(t, { users: ['alice'] })
  const { alice } = slapd.users
  const res = await login(bp, alice.uid, alice.password)
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store')
  const body = res.json()
  t.match(body, { token: /^bps_[A-Za-z0-9_-]{43}$/, user: 'alice', idleTimeoutS: 900 })
  const hoursLeft = (Date.parse(body.expiresAt) - Date.now()) / 3_600_000
  t.ok(hoursLeft > 7.5 && hoursLeft <= 8, `expires 8 h after login (${hoursLeft.toFixed(2)} h)`)
  const token: string = body.token

  const before = Date.now()
  const armed = await bp.app.inject({ method: 'PUT', url: '/api/intents', headers: as(token), payload: { machine: `mac:${MAC}`, profile: 'reinstall', expiresInS: 3600 } })
  t.equal(armed.statusCode, 201)
  t.match(armed.json().intent, { machine: `mac:${MAC}`, profile: 'reinstall', state: 'armed', setBy: 'operator:alice' })
  const listed = await bp.app.inject({ url: '/api/intents', headers: as(token) })
  const [active] = listed.json().active
  t.match(active, { setBy: 'operator:alice' })
  const setAt = Date.parse(active.setAt)
  t.ok(setAt >= before - 1000 && setAt <= Date.now() + 1000, 'listed with when it was set')
  t.match((await bp.app.inject(`/boot?mac=${MAC}&buildarch=x86_64&platform=pcbios`)).body, /reinstall/, 'the boot sees the intent')

  const cleared = await bp.app.inject({ method: 'DELETE', url: `/api/intents/mac:${MAC}`, headers: as(token) })
  t.equal(cleared.statusCode, 200)
  t.match(cleared.json().ended, { outcome: 'cleared', endedBy: 'operator:alice' })

  // With state.backend postgres (the suite's second pass) events reach the shared store in batches.
  await bp.runtime.eventStore?.flush()
  const machines = await bp.app.inject({ url: '/api/machines', headers: as(token) })
  t.equal(machines.statusCode, 200)
  t.ok(machines.json().total >= 1)
  const timeline = await bp.app.inject({ url: `/api/machines/${MAC}/timeline`, headers: as(token) })
  t.equal(timeline.statusCode, 200)
  t.match(
    timeline.json().events.find((e: { source: string; type: string }) => e.source === 'intent' && e.type === 'armed'),
    { fields: { setBy: 'operator:alice' } },
    'the timeline says who armed it',
  )
  t.equal((await bp.app.inject({ method: 'POST', url: '/api/explain', headers: as(token), payload: {} })).statusCode, 401, 'explain stays admin only')

  const claimed = await bp.app.inject({ method: 'PUT', url: '/api/intents', headers: as(token), payload: { machine: 'mac:52:54:00:bb:00:02', profile: 'x', expiresInS: 60, setBy: 'ops-bot' } })
  t.match(claimed.json().intent, { setBy: 'ops-bot (operator:alice)' }, 'a claimed name stands beside the session it came through')
  const admin = await bp.app.inject({ method: 'PUT', url: '/api/intents', headers: as(ADMIN), payload: { machine: `mac:${MAC}`, profile: 'x', expiresInS: 60 } })
  t.match(admin.json().intent, { setBy: 'admin token' }, 'the admin token still works, recorded as before')

  const bodies = [armed, listed, cleared, machines, timeline, claimed, admin].map((r) => r.body)
  noSecrets(t, [...logs.lines, ...bodies], [token, alice.password])
  t.ok(
    logs.records().some((r) => r.msg === 'operator logged in' && r.operator === 'alice'),
    'the login is logged, by user',
  )
})

t.test('groups: a member of a listed group logs in; a valid directory user not on the list is refused', async (t) => {
  const { bp, logs } = await server(t, { groups: ['lab'] })
  const { alice, bob } = slapd.users
  t.equal((await login(bp, alice.uid, alice.password)).statusCode, 200, 'alice is in lab')
  const refused = await login(bp, bob.uid, bob.password)
  t.equal(refused.statusCode, 401, 'bob (staff only) has a good password but is no operator')
  t.same(Object.keys(refused.json()).sort(), ['code', 'message', 'reqId'])
  t.match(refused.json(), { code: 'BP_ERR_HTTP_LOGIN_FAILED', message: 'Login refused' }, 'the same answer as a wrong password')
  t.ok(
    logs.records().some((r) => r.msg === 'operator login refused' && r.username === bob.uid && r.reason === 'not an operator'),
    'the log says why',
  )
  const wrong = await login(bp, alice.uid, 'not-her-password')
  t.equal(wrong.statusCode, 401, 'wrong password')
  t.equal(wrong.json().code, 'BP_ERR_HTTP_LOGIN_FAILED')
  t.equal((await login(bp, 'mallory', 'whatever-1')).statusCode, 401, 'unknown user')
  noSecrets(t, logs.lines, [alice.password, bob.password, 'not-her-password', 'whatever-1'])
})

t.test('a burst of guesses is held to the login limits; then even the right password waits', async (t) => {
  const { bp } = await server(t, { users: ['alice'] }, { auth: { limits: { perUser: 3 } } })
  const { alice } = slapd.users
  const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => login(bp, alice.uid, `guess-${i}`, `192.0.2.${i + 1}`)))
  const codes = burst.map((r) => r.statusCode)
  t.equal(codes.filter((c) => c === 401).length, 3, `perUser (3) guesses reached the directory: ${codes.join(',')}`)
  t.equal(codes.filter((c) => c === 429).length, 27)
  const limited = burst.find((r) => r.statusCode === 429)!
  t.equal(limited.json().code, 'BP_ERR_HTTP_LOGIN_LIMITED')
  t.match(limited.headers['retry-after'], /^\d+$/)
  const right = await login(bp, alice.uid, alice.password)
  t.equal(right.statusCode, 429, 'limited: the directory is not asked at all')
})

t.test('an idle session ends; logout ends a session; wrong tokens are refused', async (t) => {
  const { bp } = await server(t, { users: ['alice'], sessionIdleS: 5 })
  const { alice } = slapd.users
  const idle: string = (await login(bp, alice.uid, alice.password)).json().token
  const other: string = (await login(bp, alice.uid, alice.password)).json().token
  t.equal((await bp.app.inject({ url: '/api/intents', headers: as(other) })).statusCode, 200)
  t.equal((await bp.app.inject({ method: 'POST', url: '/api/logout', headers: as(other) })).statusCode, 204)
  t.equal((await bp.app.inject({ url: '/api/intents', headers: as(other) })).statusCode, 401, 'logged out')
  t.equal((await bp.app.inject({ method: 'POST', url: '/api/logout', headers: as(other) })).statusCode, 401, 'a second logout')
  t.equal((await bp.app.inject({ method: 'POST', url: '/api/logout', headers: as(ADMIN) })).statusCode, 401, 'the admin token is no session')
  for (const token of [`${idle}x`, idle.slice(0, -1), 'bps_', '']) t.equal((await bp.app.inject({ url: '/api/intents', headers: as(token) })).statusCode, 401)
  // Idle for longer than sessionIdleS (5 s): a lower bound, so load only makes it surer.
  await new Promise((r) => setTimeout(r, 6000))
  const res = await bp.app.inject({ url: '/api/intents', headers: as(idle) })
  t.equal(res.statusCode, 401, 'idle for 6 s: ended')
  t.equal(res.json().code, 'BP_ERR_HTTP_UNAUTHORIZED')
})

t.test("an operator's event stream ends with the session: after logout the next event is not sent", async (t) => {
  const { bp } = await server(t, { users: ['alice'] })
  await bp.app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = bp.app.server.address() as { port: number }
  const token: string = (await login(bp, 'alice', slapd.users.alice.password)).json().token
  const ctl = new AbortController()
  t.teardown(() => ctl.abort())
  const res = await fetch(`http://127.0.0.1:${port}/api/machines/events`, { headers: as(token), signal: ctl.signal })
  t.equal(res.status, 200)
  const reader = res.body!.getReader()
  const text = async (): Promise<{ done: boolean; chunk: string }> => {
    const { done, value } = await reader.read()
    return { done, chunk: value ? Buffer.from(value).toString() : '' }
  }
  t.match((await text()).chunk, /bootpolicy timeline/)
  await bp.app.inject(`/boot?mac=${MAC}&buildarch=x86_64&platform=pcbios`)
  t.match((await text()).chunk, /event: /, 'a live event while the session lives')
  t.equal((await bp.app.inject({ method: 'POST', url: '/api/logout', headers: as(token) })).statusCode, 204)
  await bp.app.inject(`/boot?mac=${MAC}&buildarch=x86_64&platform=pcbios`)
  let after = ''
  // Without the check the stream would stay open: stop reading after a generous minute, then look.
  const stop = setTimeout(() => ctl.abort(), 60_000)
  t.teardown(() => clearTimeout(stop))
  for (;;) {
    const r = await text().catch(() => ({ done: true, chunk: '' }))
    after += r.chunk
    if (r.done) break
  }
  t.notMatch(after, /event: /, 'the stream ended before the next event')
})

t.test('hostile login bodies get clear 4xx errors that quote neither field', async (t) => {
  const { bp, logs } = await server(t, { users: ['alice'] })
  const post = (payload: string, type = 'application/json') => bp.app.inject({ method: 'POST', url: '/api/login', headers: { 'content-type': type }, payload })
  const secret = 'hostile-password-123'
  const cases: [string, number, RegExp][] = [
    [JSON.stringify({ user: 'alice', password: secret, pad: 'x'.repeat(5000) }), 413, /./],
    [JSON.stringify({ user: 'ali\nce', password: secret }), 400, /user: /],
    [JSON.stringify({ user: 'ali\u0000ce', password: secret }), 400, /user: /],
    [JSON.stringify({ user: 'a'.repeat(65), password: secret }), 400, /user: /],
    [JSON.stringify({ user: ['alice'], password: secret }), 400, /user: /],
    [JSON.stringify({ user: 'alice', password: 12345678 }), 400, /password must be/],
    [JSON.stringify({ user: 'alice', password: '' }), 400, /password must be/],
    [JSON.stringify({ user: 'alice', password: 'p'.repeat(300) }), 400, /at most 256 bytes/],
    [JSON.stringify({ user: 'alice', password: secret, admin: true }), 400, /only "user" and "password"/],
    [JSON.stringify([secret]), 400, /JSON object/],
    [`{"user":"alice","password":"${secret}"`, 400, /./],
    [`user=alice&password=${secret}`, 415, /./],
  ]
  for (const [payload, status, why] of cases) {
    const type = status === 415 ? 'application/x-www-form-urlencoded' : 'application/json'
    const res = await post(payload, type)
    t.equal(res.statusCode, status, payload.slice(0, 60))
    t.match(res.json().message, why)
    t.notOk(res.body.includes(secret) || res.body.includes('ali\\nce'), 'the answer quotes neither field')
  }
  noSecrets(t, logs.lines, [secret])
})

t.test('two replicas on one PostgreSQL: a burst spread over both is held to the shared limits', async (t) => {
  const db = await createDatabase(t)
  const state = pgSettings(db)
  const { bp: a } = await server(t, { users: ['alice'] }, { state })
  const { bp: b } = await server(t, { users: ['alice'] }, { state })
  const { alice } = slapd.users
  const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => login(i % 2 ? a : b, alice.uid, `guess-${i}`, `192.0.2.${(i % 30) + 1}`)))
  const codes = burst.map((r) => r.statusCode)
  t.equal(codes.filter((c) => c === 401).length, 5, `perUser (5) guesses reached the directory over both replicas: ${codes.join(',')}`)
  t.equal(codes.filter((c) => c === 429).length, 35)
})

t.test('sessions live in one process; with the directory down a login is 503, not a refusal', async (t) => {
  const db = await createDatabase(t)
  const state = pgSettings(db)
  const { bp: a } = await server(t, { users: ['alice'] }, { state })
  const { bp: b } = await server(t, { users: ['alice'] }, { state })
  const { alice } = slapd.users
  const token: string = (await login(a, alice.uid, alice.password)).json().token
  t.equal((await a.app.inject({ url: '/api/intents', headers: as(token) })).statusCode, 200)
  t.equal((await b.app.inject({ url: '/api/intents', headers: as(token) })).statusCode, 401, 'another replica does not know the session')
  await slapd.stop()
  let stopped = true
  t.teardown(() => (stopped ? slapd.start() : undefined))
  const down = await login(a, alice.uid, alice.password)
  t.equal(down.statusCode, 503)
  t.equal(down.json().code, 'BP_ERR_HTTP_LOGIN_UNAVAILABLE')
  await slapd.start()
  stopped = false
  t.equal((await login(a, alice.uid, alice.password)).statusCode, 200, 'back: logins work again')
})
