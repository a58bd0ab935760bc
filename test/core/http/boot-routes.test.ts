/** The HTTP surface through app.inject(): bootstrap, /boot, failsafe, redaction, health, metrics, explain. */
import t from 'tap'
import { build } from '../../../core/http/build-app.js'
import { validateConfig, PACKAGE_ROOT } from '../../../core/config/load-config.js'
import { captureLogs } from '../../helpers/log-capture.js'
import { tempPolicies } from '../../helpers/policy-dir.js'
import { parseScript } from '../../helpers/ipxe-tokenize.js'

// Request ids are random: keep them out of snapshots.
t.cleanSnapshot = (s: string) => s.replace(/set bp-req [0-9a-f]{10}/g, 'set bp-req <id>')

const exampleConfig = (extra: Record<string, unknown> = {}) => validateConfig({ policies: { watch: false }, log: { level: 'silent' }, ...extra }, PACKAGE_ROOT)

t.test('GET /boot.ipxe chains /boot with every identity variable, text ones hex-encoded', async (t) => {
  const bp = await build(exampleConfig())
  t.teardown(() => bp.close())
  const res = await bp.app.inject('/boot.ipxe')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain/)
  t.matchSnapshot(res.body, 'bootstrap script')
  const chain = parseScript(res.body).commands[0]!.argv
  t.equal(chain[0], 'chain')
  for (const v of ['mac=${mac:hexhyp}', 'uuid=${uuid}', 'buildarch=${buildarch}', 'platform=${platform}', 'serial_hex=${serial:hexhyp}', 'product_hex=${product:hexhyp}']) {
    t.ok(res.body.includes(v), v)
  }
})

t.test('GET /boot runs the example policies', async (t) => {
  const bp = await build(exampleConfig())
  t.teardown(() => bp.close())
  const sanboot = await bp.app.inject('/boot?mac=00%3A11%3A22%3A33%3A44%3A55&buildarch=x86_64&platform=efi')
  t.equal(sanboot.statusCode, 200)
  t.matchSnapshot(sanboot.body, 'per-MAC sanboot')
  const menu = await bp.app.inject('/boot?mac=52%3A54%3A00%3A00%3A00%3A01&buildarch=x86_64&platform=efi')
  t.matchSnapshot(menu.body, 'menu for an unknown x86_64 UEFI client')
  const bios = await bp.app.inject('/boot?mac=52%3A54%3A00%3A00%3A00%3A02&buildarch=i386&platform=pcbios')
  t.match(bios.body, /^#!ipxe\nset bp-req [0-9a-f]{10}\nchain --autofree \/files\/lpxelinux\.0 \|\| goto bp_failed\n/)
})

t.test('a request that cannot be read gets a 400 and still a valid script saying why', async (t) => {
  const bp = await build(exampleConfig())
  t.teardown(() => bp.close())
  const res = await bp.app.inject(`/boot?${Array.from({ length: 70 }, (_, i) => `p${i}=1`).join('&')}`)
  t.equal(res.statusCode, 400)
  t.match(res.body, /^#!ipxe\n/)
  const echo = parseScript(res.body).commands.find((c) => c.argv[0] === 'echo')!
  t.match(echo.argv.slice(1).join(' '), /more than 64 parameters \(request [0-9a-f]{10}\)/)
  t.match(res.body, /\nexit\n/, 'then the default decision')
})

t.test('a password sent to /boot appears in no log line', async (t) => {
  const logs = captureLogs('trace')
  const dir = tempPolicies({ 'p.ts': `export default (ctx: any) => ({ kind: 'exit', message: ctx.auth.status })` })
  t.teardown(() => dir.remove())
  const bp = await build(dir.config({ log: { level: 'trace' } }), { logger: logs.logger })
  t.teardown(() => bp.close())
  const secret = 'Sup3rS3cret!'
  const hex = [...Buffer.from(secret)].map((b) => b.toString(16).padStart(2, '0')).join(':')
  await bp.app.inject(`/boot?username=alice&password=${secret}&mac=52:54:00:00:00:01`)
  await bp.app.inject(`/boot?username=alice&password_hex=${hex}`)
  await bp.app.inject(`/boot?username=alice&password=${secret}&${'x=1&'.repeat(70)}`)
  t.ok(logs.lines.length >= 3, `${logs.lines.length} log lines captured`)
  for (const line of logs.lines) {
    t.notOk(line.includes(secret) || line.includes(hex) || line.includes('Sup3r'), 'no secret in: ' + line.slice(0, 80))
  }
  const decision = logs.records().find((r) => r.msg === 'decision')!
  t.equal((decision.decision as { context: { auth: { status: string } } }).context.auth.status, 'failed', 'no backend configured: refused')
})

t.test('/healthz, /metrics', async (t) => {
  const bp = await build(exampleConfig())
  t.teardown(() => bp.close())
  await bp.app.inject('/boot?mac=00:11:22:33:44:55')
  await bp.app.inject('/boot?mac=00:11:22:33:44:55')
  const health = (await bp.app.inject('/healthz')).json()
  t.equal(health.status, 'ok')
  t.same(health.policies, ['10-per-mac.ts', '30-arch-dispatch.ts', '50-menu.ts'])
  const metrics = (await bp.app.inject('/metrics')).body
  t.match(metrics, /bootpolicy_decisions_total\{kind="sanboot",decided_by="policy:10-per-mac\.ts"\} 2/)
  t.match(metrics, /bootpolicy_decision_cache_hits_total 1/)
  t.match(metrics, /bootpolicy_boot_duration_seconds_count 2/)
  t.match(metrics, /bootpolicy_http_requests_total\{route="\/boot",code="200"\} 2/)
})

t.test('POST /api/explain is off without a token, refuses a wrong one, explains with the right one', async (t) => {
  const off = await build(exampleConfig())
  t.teardown(() => off.close())
  t.equal((await off.app.inject({ method: 'POST', url: '/api/explain', payload: {} })).statusCode, 404)
  const token = 'a-long-admin-token-for-tests'
  const bp = await build(exampleConfig({ http: { adminToken: token } }))
  t.teardown(() => bp.close())
  const wrong = await bp.app.inject({ method: 'POST', url: '/api/explain', payload: { mac: '00:11:22:33:44:55' }, headers: { authorization: 'Bearer nope' } })
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.json().code, 'BP_ERR_HTTP_UNAUTHORIZED')
  const res = await bp.app.inject({ method: 'POST', url: '/api/explain', payload: { mac: '00:11:22:33:44:55' }, headers: { authorization: `Bearer ${token}` } })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.equal(body.record.decidedBy, 'policy:10-per-mac.ts')
  t.equal(body.decision.kind, 'sanboot')
  t.same(
    body.record.policies.map((p: { outcome: string }) => p.outcome),
    ['decided'],
  )
})

t.test('policy faults: the client gets the failsafe with a request id, the log names file:line', async (t) => {
  const logs = captureLogs('info')
  const dir = tempPolicies({
    '10-broken.ts': `export default function (ctx: any) {\n  if (ctx.params.x) {\n    throw new Error('bad ' + ctx.params.x)\n  }\n  return { kind: 'nonsense' }\n}\n`,
  })
  t.teardown(() => dir.remove())
  const bp = await build(dir.config(), { logger: logs.logger })
  t.teardown(() => bp.close())
  const thrown = await bp.app.inject('/boot?x=1')
  const shown = parseScript(thrown.body)
    .commands.find((c) => c.argv[0] === 'echo')!
    .argv.slice(1)
    .join(' ')
  t.match(shown, /^bootpolicy: BP_ERR_POLICY_THREW \(request [0-9a-f]{10}\)$/, 'the client sees the code and its request id')
  t.match(thrown.body, /\nexit\n/, 'then the configured default')
  const garbage = await bp.app.inject('/boot')
  t.match(garbage.body, /BP_ERR_POLICY_BAD_DECISION/)
  const records = logs.records().filter((r) => r.msg === 'decision')
  const err = (records[0]!.decision as { error: { code: string; message: string } }).error
  t.equal(err.code, 'BP_ERR_POLICY_THREW')
  t.match(err.message, /10-broken\.ts:3/)
  t.equal(records[0]!.level, 40, 'logged as a warning')
})

t.test('explain is a dry run: no prepare side effects', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default () => ({ kind: 'exit' })` })
  t.teardown(() => dir.remove())
  const marker = `${dir.dir}/prepared`
  const { writeFileSync, existsSync } = await import('node:fs')
  writeFileSync(
    `${dir.dir}/side.mjs`,
    `import { writeFileSync } from 'node:fs'\nexport default () => ({ name: 'side', version: '1.0.0', bootpolicy: '^0.1.0', hooks: { prepare: async () => { writeFileSync(${JSON.stringify(marker)}, 'x') } } })\n`,
  )
  const token = 'a-long-admin-token-for-tests'
  const bp = await build(dir.config({ http: { adminToken: token }, plugins: [{ name: 'side', path: `${dir.dir}/side.mjs` }] }))
  t.teardown(() => bp.close())
  const res = await bp.app.inject({ method: 'POST', url: '/api/explain', payload: {}, headers: { authorization: `Bearer ${token}` } })
  t.equal(res.json().decision.kind, 'exit')
  t.notOk(existsSync(marker), 'prepare did not run')
  await bp.app.inject('/boot')
  t.ok(existsSync(marker), 'a real /boot runs it')
})
