/**
 * Intents and installer callbacks through the real app (app.inject): the admin API, ctx.intent in
 * a real sandboxed policy, the token bound per response after every cache, and the callback rules
 * (single use, bound to its machine, never logged, exactly once under a parallel burst).
 */
import t, { type Test } from 'tap'
import { build, type Bootpolicy } from '../../../core/http/build-app.js'
import { captureLogs } from '../../helpers/log-capture.js'
import { tempPolicies } from '../../helpers/policy-dir.js'
import { storedDocument } from '../../helpers/suite-state.js'
import { waitUntil } from '../../helpers/wait-until.js'

const ADMIN = 'intent-test-admin-token-0123456789'
// Twelve full servers (policy workers, live type check) on a loaded 2-core machine.
t.setTimeout(600_000)
const MAC = '52:54:00:aa:00:01'
const OTHER = '52:54:00:aa:00:02'
const POLICY = `import { boot, exit, INTENT_TOKEN, policy } from 'bootpolicy/policy'
export default policy((ctx) => {
  if (ctx.intent?.decision) return ctx.intent.decision
  if (ctx.intent?.profile === 'reinstall') {
    const why = ctx.intent.failure ? 'retry' : 'first'
    return boot('/files/vmlinuz', { args: ['bp.token=' + INTENT_TOKEN, 'bp.try=' + why, 'bp.note=' + ctx.intent.note.replace(/[^a-z]/g, '')] })
  }
  return exit('local disk')
})
`

async function server(t: Test, extra: Record<string, unknown> = {}): Promise<{ bp: Bootpolicy; logs: ReturnType<typeof captureLogs> }> {
  const dir = tempPolicies({ 'p.ts': POLICY })
  t.teardown(() => dir.remove())
  const logs = captureLogs('trace')
  const bp = await build(dir.config({ http: { adminToken: ADMIN }, stateDir: `${dir.dir}/var`, log: { level: 'trace' }, ...extra }), { logger: logs.logger })
  t.teardown(() => bp.close())
  return { bp, logs }
}

const auth = { authorization: `Bearer ${ADMIN}` }
const arm = (bp: Bootpolicy, body: Record<string, unknown>) => bp.app.inject({ method: 'PUT', url: '/api/intents', headers: auth, payload: body })
const bootOf = (bp: Bootpolicy, mac: string) => bp.app.inject(`/boot?mac=${encodeURIComponent(mac)}&buildarch=x86_64&platform=pcbios`)
const tokenIn = (script: string) => /bp\.token=([0-9a-f]*)/.exec(script)?.[1]
const callback = (bp: Bootpolicy, outcome: string, form: Record<string, string>) =>
  bp.app.inject({ method: 'POST', url: `/api/callback/${outcome}`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(form).toString() })

t.test('the admin API is off without http.adminToken, and refuses a wrong or missing token', async (t) => {
  const dir = tempPolicies({ 'p.ts': POLICY })
  t.teardown(() => dir.remove())
  const off = await build(dir.config({ stateDir: `${dir.dir}/var` }))
  t.teardown(() => off.close())
  t.equal((await off.app.inject('/api/intents')).json().code, 'BP_ERR_HTTP_DISABLED')
  const { bp } = await server(t)
  for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: `Bearer ${ADMIN}x` }, { authorization: ADMIN }]) {
    const res = await bp.app.inject({ method: 'PUT', url: '/api/intents', headers, payload: { machine: `mac:${MAC}`, profile: 'x', expiresInS: 60 } })
    t.equal(res.statusCode, 401)
    t.equal(res.json().code, 'BP_ERR_HTTP_UNAUTHORIZED')
  }
  t.equal((await bp.app.inject({ method: 'DELETE', url: `/api/intents/mac:${MAC}` })).statusCode, 401)
  t.same((await bp.app.inject({ url: '/api/intents', headers: auth })).json(), { active: [], ended: [] }, 'nothing was armed by the refused calls')
})

t.test('hostile intents get BP_ERR_INTENT_INVALID naming the field', async (t) => {
  const { bp } = await server(t)
  const cases: [Record<string, unknown> | string, RegExp][] = [
    [{ machine: 'mac:52:54:00:zz:00:01', profile: 'x', expiresInS: 60 }, /not a MAC/],
    [{ machine: 'serial:123', profile: 'x', expiresInS: 60 }, /machine must be/],
    [{ machine: `label:${'a'.repeat(70)}`, profile: 'x', expiresInS: 60 }, /machine/],
    [{ machine: 'label:-web', profile: 'x', expiresInS: 60 }, /label/],
    [{ machine: `mac:${MAC}`, expiresInS: 60 }, /exactly one of profile and decision/],
    [{ machine: `mac:${MAC}`, profile: 'x', decision: { kind: 'exit' }, expiresInS: 60 }, /exactly one of profile and decision/],
    [{ machine: `mac:${MAC}`, profile: 'x; reboot', expiresInS: 60 }, /profile/],
    [{ machine: `mac:${MAC}`, decision: { kind: 'boot' }, expiresInS: 60 }, /decision: /],
    [{ machine: `mac:${MAC}`, profile: 'x', note: 'n'.repeat(501), expiresInS: 60 }, /longer than 500/],
    [{ machine: `mac:${MAC}`, profile: 'x', note: 'a\nb', expiresInS: 60 }, /control characters/],
    [{ machine: `mac:${MAC}`, profile: 'x' }, /expiresAt .* expiresInS/],
    [{ machine: `mac:${MAC}`, profile: 'x', expiresInS: 0 }, /at least 1/],
    [{ machine: `mac:${MAC}`, profile: 'x', expiresInS: 1.5 }, /whole number/],
    [{ machine: `mac:${MAC}`, profile: 'x', expiresAt: '2001-01-01T00:00:00Z' }, /in the past/],
    [{ machine: `mac:${MAC}`, profile: 'x', expiresAt: 'tomorrow' }, /ISO 8601/],
    [{ machine: `mac:${MAC}`, profile: 'x', expiresInS: 31 * 24 * 3600 }, /30 days/],
    [{ machine: `mac:${MAC}`, profile: 'x', expiresInS: 60, setBy: 'eve\nadmin' }, /setBy/],
    [{ machine: `mac:${MAC}`, profile: 'x', expiresInS: 60, token: 'mine' }, /unknown field "token"/],
    [[1, 2] as unknown as Record<string, unknown>, /JSON object/],
  ]
  for (const [body, why] of cases) {
    const res = await arm(bp, body as Record<string, unknown>)
    t.equal(res.statusCode, 400, JSON.stringify(body).slice(0, 80))
    t.equal(res.json().code, 'BP_ERR_INTENT_INVALID')
    t.match(res.json().message, why)
  }
  t.equal((await bp.app.inject({ url: '/api/intents', headers: auth })).json().active.length, 0)
  t.equal((await bp.app.inject({ method: 'DELETE', url: '/api/intents/mac:nonsense', headers: auth })).json().code, 'BP_ERR_INTENT_INVALID')
  t.equal((await bp.app.inject({ method: 'DELETE', url: `/api/intents/mac:${MAC}`, headers: auth })).json().code, 'BP_ERR_INTENT_NOT_FOUND')
})

t.test('arm, boot with a token, built consumes the intent, the next boot goes to local disk', async (t) => {
  const { bp, logs } = await server(t)
  t.match((await bootOf(bp, MAC)).body, /exit/, 'before: local disk')
  const armed = await arm(bp, { machine: `mac:${MAC.toUpperCase()}`, profile: 'reinstall', note: 'disk swap', expiresInS: 3600, setBy: 'alice' })
  t.equal(armed.statusCode, 201)
  t.match(armed.json().intent, { machine: `mac:${MAC}`, profile: 'reinstall', note: 'disk swap', state: 'armed', setBy: 'alice (admin token)', tokensIssued: 0 })
  const first = await bootOf(bp, MAC)
  const token = tokenIn(first.body)!
  t.match(token, /^[0-9a-f]{40}$/, 'the boot carries a 160-bit token')
  t.match(first.body, /bp\.try=first bp\.note=diskswap/, 'the policy saw ctx.intent')
  t.match((await bootOf(bp, OTHER)).body, /exit/, 'another machine is not armed')
  const listed = (await bp.app.inject({ url: '/api/intents', headers: auth })).json()
  t.match(listed.active[0], { tokensIssued: 1, tokenIssuedTo: MAC })
  t.notOk(JSON.stringify(listed).includes(token), 'the list never shows the token')

  const done = await callback(bp, 'built', { token, mac: MAC, reason: '' })
  t.equal(done.statusCode, 200)
  t.match(done.json(), { outcome: 'built', intent: { state: 'ended', outcome: 'built', endedBy: 'installer', reason: 'installer reported built' } })
  t.match((await bootOf(bp, MAC)).body, /exit/, 'after built: local disk')
  const again = await callback(bp, 'built', { token, mac: MAC })
  t.equal(again.statusCode, 403, 'a replayed token is refused')
  t.equal(again.json().code, 'BP_ERR_CALLBACK_TOKEN')
  const after = (await bp.app.inject({ url: '/api/intents', headers: auth })).json()
  t.same(after.active, [])
  t.match(after.ended[0], { outcome: 'built', machine: `mac:${MAC}` })
  const metrics = (await bp.app.inject('/metrics')).body
  t.match(metrics, /bootpolicy_intents_total\{event="armed"\} 1/)
  t.match(metrics, /bootpolicy_intents_total\{event="consumed"\} 1/)
  t.match(metrics, /bootpolicy_installer_callbacks_total\{outcome="built",result="accepted"\} 1/)
  t.match(metrics, /bootpolicy_installer_callbacks_total\{outcome="built",result="refused"\} 1/)
  t.ok(logs.lines.length > 5)
  for (const line of logs.lines) t.notOk(line.includes(token), `no token in: ${line.slice(0, 80)}`)
})

t.test('a token works only for its machine, only once, and a re-arm or a second boot revokes it', async (t) => {
  const { bp } = await server(t)
  await arm(bp, { machine: `mac:${MAC}`, profile: 'reinstall', expiresInS: 3600 })
  await arm(bp, { machine: `mac:${OTHER}`, profile: 'reinstall', expiresInS: 3600 })
  const mine = tokenIn((await bootOf(bp, MAC)).body)!
  const theirs = tokenIn((await bootOf(bp, OTHER)).body)!
  t.not(mine, theirs)
  t.equal((await callback(bp, 'built', { token: theirs, mac: MAC })).statusCode, 403, "another machine's token")
  t.equal((await callback(bp, 'built', { token: mine, mac: OTHER })).statusCode, 403, 'my token from another machine')
  t.equal((await callback(bp, 'built', { token: mine, uuid: '00000000-0000-0000-0000-000000000001' })).statusCode, 403, 'a uuid it was not issued to')
  // A second boot (the installer rebooted into PXE): fresh token, the first is revoked.
  const second = tokenIn((await bootOf(bp, MAC)).body)!
  t.not(second, mine)
  t.equal((await callback(bp, 'built', { token: mine, mac: MAC })).statusCode, 403, 'the revoked token')
  // Re-arm: the live token dies with the replaced intent.
  const rearmed = await arm(bp, { machine: `mac:${MAC}`, profile: 'reinstall', expiresInS: 3600 })
  t.match(rearmed.json().replaced, { outcome: 'replaced', reason: 're-armed' })
  t.equal((await callback(bp, 'built', { token: second, mac: MAC })).statusCode, 403, 'the token of the replaced intent')
  const third = tokenIn((await bootOf(bp, MAC)).body)!
  t.equal((await callback(bp, 'built', { token: third, mac: MAC.toUpperCase().replaceAll(':', '-') })).statusCode, 200, 'any MAC spelling of the right machine')
  // Cleared: the other machine's token dies too.
  t.equal((await bp.app.inject({ method: 'DELETE', url: `/api/intents/mac:${OTHER}`, headers: auth })).statusCode, 200)
  t.equal((await callback(bp, 'built', { token: theirs, mac: OTHER })).statusCode, 403, 'the token of a cleared intent')
})

t.test('hostile callbacks get BP_ERR_CALLBACK_BAD_REQUEST', async (t) => {
  const { bp } = await server(t)
  const good = 'a'.repeat(40)
  const cases: [string, Record<string, string>, RegExp][] = [
    ['rebuilt', { token: good, mac: MAC }, /"built" or "failed"/],
    ['built', { token: 'short', mac: MAC }, /40 hex/],
    ['built', { token: 'A'.repeat(40), mac: MAC }, /40 hex/],
    ['built', { token: good }, /mac/],
    ['built', { token: good, mac: 'not-a-mac' }, /mac/],
    ['failed', { token: good, mac: MAC, reason: 'r'.repeat(201) }, /reason/],
    ['failed', { token: good, mac: MAC, log: 'l'.repeat(4097) }, /log/],
  ]
  for (const [outcome, form, why] of cases) {
    const res = await callback(bp, outcome, form)
    t.equal(res.statusCode, 400, `${outcome} ${JSON.stringify(form).slice(0, 60)}`)
    t.equal(res.json().code, 'BP_ERR_CALLBACK_BAD_REQUEST')
    t.match(res.json().message, why)
  }
  const json = await bp.app.inject({ method: 'POST', url: '/api/callback/built', payload: { token: good, mac: MAC } })
  t.equal(json.statusCode, 403, 'JSON works too; an unknown token is refused')
  const huge = await bp.app.inject({ method: 'POST', url: '/api/callback/built', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `log=${'x'.repeat(20_000)}` })
  t.equal(huge.statusCode, 413, 'a form over 16 KiB')
})

t.test('failed keeps the intent with the reason; the next boot gets a fresh token and can build', async (t) => {
  const { bp } = await server(t)
  await arm(bp, { machine: `mac:${MAC}`, profile: 'reinstall', expiresInS: 3600 })
  const token = tokenIn((await bootOf(bp, MAC)).body)!
  const failed = await callback(bp, 'failed', { token, mac: MAC, reason: 'no disk\u0007 found', log: 'line 1\nline 2' })
  t.equal(failed.statusCode, 200)
  t.match(failed.json().intent, { state: 'failed', failure: { reason: 'no disk  found', log: 'line 1\nline 2' } })
  t.equal((await callback(bp, 'failed', { token, mac: MAC })).statusCode, 403, 'the token was spent by the failure report')
  const retry = await bootOf(bp, MAC)
  t.match(retry.body, /bp\.try=retry/, 'the policy sees ctx.intent.failure')
  const fresh = tokenIn(retry.body)!
  t.not(fresh, token)
  t.equal((await callback(bp, 'built', { token: fresh, mac: MAC })).statusCode, 200)
  t.match((await bp.app.inject('/metrics')).body, /bootpolicy_intents_total\{event="failed"\} 1/)
})

t.test('an intent can target a decision; arming bumps a cached answer, clearing brings it back', async (t) => {
  const { bp } = await server(t)
  t.match((await bootOf(bp, MAC)).body, /exit/)
  t.match((await bootOf(bp, MAC)).body, /exit/)
  await arm(bp, { machine: `mac:${MAC}`, decision: { kind: 'shell', message: 'rescue' }, expiresInS: 3600 })
  t.match((await bootOf(bp, MAC)).body, /\nshell\n/, 'the whole-response cache did not serve the old answer')
  t.match((await bootOf(bp, MAC)).body, /\nshell\n/)
  await bp.app.inject({ method: 'DELETE', url: `/api/intents/mac:${MAC}`, headers: auth })
  t.match((await bootOf(bp, MAC)).body, /exit/, 'cleared: the machine is back to its policy answer')
})

t.test('intents by uuid and by label (hostname) arm the right machine', async (t) => {
  const { bp } = await server(t)
  const uuid = '8e5f2a10-0000-4000-8000-00000000abcd'
  await arm(bp, { machine: `uuid:${uuid.toUpperCase()}`, profile: 'reinstall', note: 'byuuid', expiresInS: 60 })
  await arm(bp, { machine: 'label:Web-01', profile: 'reinstall', note: 'bylabel', expiresInS: 60 })
  t.match((await bp.app.inject(`/boot?mac=52:54:00:00:00:09&uuid=${uuid}`)).body, /bp\.note=byuuid/)
  const byLabel = await bp.app.inject(`/boot?mac=52:54:00:00:00:0a&hostname=web-01`)
  t.match(byLabel.body, /bp\.note=bylabel/)
  t.match((await bp.app.inject('/boot?mac=52:54:00:00:00:0b&hostname=web-02')).body, /exit/)
  const token = tokenIn(byLabel.body)!
  t.equal((await callback(bp, 'built', { token, mac: '52:54:00:00:00:0a' })).statusCode, 200, 'a label intent is bound to the MAC that booted')
})

t.test('a parallel burst of the same callback consumes the intent exactly once', async (t) => {
  const { bp } = await server(t)
  await arm(bp, { machine: `mac:${MAC}`, profile: 'reinstall', expiresInS: 3600 })
  const token = tokenIn((await bootOf(bp, MAC)).body)!
  const burst = await Promise.all(Array.from({ length: 64 }, (_, i) => callback(bp, i % 2 ? 'built' : 'failed', { token, mac: MAC })))
  const ok = burst.filter((r) => r.statusCode === 200)
  t.equal(ok.length, 1, 'exactly one of 64 callbacks was accepted')
  t.ok(
    burst.filter((r) => r.statusCode !== 200).every((r) => r.statusCode === 403 && r.json().code === 'BP_ERR_CALLBACK_TOKEN'),
    'the other 63 were refused',
  )
  const metrics = (await bp.app.inject('/metrics')).body
  t.equal(
    [...metrics.matchAll(/result="accepted"\} (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0),
    1,
  )
})

t.test('an intent that expires before its callback: local disk, the reason recorded, the token refused', async (t) => {
  // The token comes from a boot before the expiry. A boot on a loaded host can take longer than
  // 1 s: then the same is tried on a fresh server with a longer expiry.
  let armed: { bp: Bootpolicy; logs: ReturnType<typeof captureLogs>; token: string } | undefined
  for (const expiresInS of [1, 5, 30]) {
    const { bp, logs } = await server(t)
    await arm(bp, { machine: `mac:${MAC}`, profile: 'reinstall', expiresInS })
    const token = tokenIn((await bootOf(bp, MAC)).body)
    if (token) {
      armed = { bp, logs, token }
      break
    }
    t.comment(`the boot came after the ${expiresInS} s expiry: again with a longer one`)
  }
  t.ok(armed, 'a token from a boot before the expiry')
  if (!armed) return
  const { bp, logs, token } = armed
  // Past the expiry until the sweep (every second) ended it: nothing else here ends an intent.
  await waitUntil(async () => (await bp.app.inject({ url: '/api/intents', headers: auth })).json().active.length === 0, 60_000, 100)
  t.match((await bootOf(bp, MAC)).body, /exit/, 'expired: local disk')
  const late = await callback(bp, 'built', { token, mac: MAC })
  t.equal(late.statusCode, 403, 'the sweep ended it: its token is gone')
  const list = (await bp.app.inject({ url: '/api/intents', headers: auth })).json()
  t.same(list.active, [])
  t.match(list.ended[0], { outcome: 'expired', reason: 'expired before callback', endedBy: 'expiry' })
  t.ok(
    logs.records().some((r) => r.code === 'BPWRN011'),
    'BPWRN011 logged',
  )
  t.match((await bp.app.inject('/metrics')).body, /bootpolicy_intents_total\{event="expired"\} 1/)
})

t.test('intents survive a restart (stateDir/intents.json, or the intents document), token hashes only', async (t) => {
  const dir = tempPolicies({ 'p.ts': POLICY })
  t.teardown(() => dir.remove())
  const config = dir.config({ http: { adminToken: ADMIN }, stateDir: `${dir.dir}/var` })
  const one = await build(config)
  await arm(one, { machine: `mac:${MAC}`, profile: 'reinstall', expiresInS: 3600 })
  const token = tokenIn((await bootOf(one, MAC)).body)!
  await one.close()
  // What is at rest: the file with files, the document's row with BOOTPOLICY_TEST_STATE=postgres.
  const stored = (await storedDocument(config, 'intents.json', 'intents')) ?? ''
  t.ok(stored.includes(MAC), 'the intent was stored')
  t.notOk(stored.includes(token), 'the stored intents hold no token')
  t.match(stored, /"hash":"[0-9a-f]{64}"/)
  const two = await build(config)
  t.teardown(() => two.close())
  t.equal((await callback(two, 'built', { token, mac: MAC })).statusCode, 200, 'the token issued before the restart works once after it')
})

t.test('explain shows ctx.intent but issues no token (a dry run)', async (t) => {
  const { bp } = await server(t)
  await arm(bp, { machine: `mac:${MAC}`, profile: 'reinstall', expiresInS: 3600 })
  const res = await bp.app.inject({ method: 'POST', url: '/api/explain', headers: auth, payload: { mac: MAC } })
  t.equal(res.statusCode, 200)
  t.match(res.json().script, /bp\.token=@bp-intent-token@/, 'the placeholder, not a token')
  t.match(res.json().record.context.intent, { profile: 'reinstall', state: 'armed' })
  t.match((await bp.app.inject({ url: '/api/intents', headers: auth })).json().active[0], { tokensIssued: 0 })
})
