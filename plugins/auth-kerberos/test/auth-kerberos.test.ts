/**
 * auth-kerberos against a throwaway MIT KDC on loopback: good password, wrong password, unknown
 * principal, another realm, and a spoofed KDC — a second KDC for the same realm where the user's
 * password is valid but the service key differs: checkPassword alone would say yes; the keytab
 * verification must say no.
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { build } from '../../../core/http/build-app.js'
import { captureLogs } from '../../../test/helpers/log-capture.js'
import { parseScript } from '../../../test/helpers/ipxe-tokenize.js'
import { tempPolicies } from '../../../test/helpers/policy-dir.js'
import { startKdc, type Kdc } from '../../../test/helpers/kdc.js'
import { trailSecret } from '../../../test/helpers/secret-trail.js'

const POLICY = `export default (ctx: any) => ({ kind: 'exit', message: JSON.stringify(ctx.auth) })`
const shown = (body: string): Record<string, unknown> =>
  JSON.parse(
    parseScript(body)
      .commands.find((c) => c.argv[0] === 'echo')
      ?.argv.slice(1)
      .join(' ') ?? 'null',
  ) as Record<string, unknown>
const hex = (s: string): string => (Buffer.from(s).toString('hex').match(/../g) ?? []).join(':')
const login = (username: string, password: string): string => `/boot?username_hex=${hex(username)}&password_hex=${hex(password)}`

// No spaces or quotes: kadmin.local -q splits on them; the rest goes through untouched.
const password = `Pw-${randomBytes(6).toString('hex')}&?#%$+`
trailSecret(password)
let kdc: Kdc
t.before(async () => {
  kdc = await startKdc()
  await kdc.addUser('alice', password)
})
t.teardown(() => kdc?.remove())

async function app(t: { teardown(fn: () => unknown): void }, options: Record<string, unknown>) {
  const logs = captureLogs('info')
  const dir = tempPolicies({ 'p.ts': POLICY })
  t.teardown(() => dir.remove())
  const bp = await build(dir.config({ stateDir: `${dir.dir}/state`, plugins: [{ name: 'auth-kerberos', options }] }), { logger: logs.logger })
  t.teardown(() => bp.close())
  return { bp, logs }
}

t.test('real KDC: good password, wrong password, unknown principal, realm suffix, other realm', async (t) => {
  const { bp } = await app(t, { realm: kdc.realm, service: kdc.service, keytab: kdc.keytab, krb5Config: kdc.krb5Config })
  t.same(shown((await bp.app.inject(login('alice', password))).body), {
    status: 'authenticated',
    username: 'alice',
    principal: { name: 'alice', groups: [], source: 'auth-kerberos' },
  })
  t.match(shown((await bp.app.inject(login(`alice@${kdc.realm}`, password))).body), { status: 'authenticated', principal: { name: 'alice' } })
  t.same(shown((await bp.app.inject(login('alice', 'wrong'))).body), { status: 'failed', username: 'alice', reason: 'unknown user or wrong password' })
  t.same(shown((await bp.app.inject(login('nobody', 'whatever'))).body), { status: 'failed', username: 'nobody', reason: 'unknown user or wrong password' })
  t.same(
    shown((await bp.app.inject(login('alice@OTHER.REALM', password))).body),
    { status: 'failed', username: 'alice@OTHER.REALM', reason: 'unknown user or wrong password' },
    "another realm: not this plugin's (no backend answered)",
  )
})

t.test('a spoofed KDC (same realm, the password valid there, another service key) does not authenticate', async (t) => {
  const spoofed = await startKdc({ realm: kdc.realm })
  t.teardown(() => spoofed.remove())
  await spoofed.addUser('alice', 'attacker-chosen')

  const kerberos = ((await import('kerberos')) as unknown as { default: { checkPassword(u: string, p: string, s: string, r: string): Promise<unknown> } }).default
  process.env.KRB5_CONFIG = spoofed.krb5Config
  await t.resolves(kerberos.checkPassword('alice', 'attacker-chosen', kdc.service, kdc.realm), 'checkPassword alone is fooled by the spoofed KDC')

  // The server trusts the real service keytab, but its krb5.conf now leads to the spoofed KDC.
  const { bp, logs } = await app(t, { realm: kdc.realm, service: kdc.service, keytab: kdc.keytab, krb5Config: spoofed.krb5Config })
  const res = shown((await bp.app.inject(login('alice', 'attacker-chosen'))).body)
  t.same(res, { status: 'failed', username: 'alice', reason: 'authentication service unavailable' })
  const sec = logs.records().find((r) => r.code === 'BPSEC_KRB5_KDC_UNVERIFIED')
  t.match(sec, { level: 50, principal: `alice@${kdc.realm}`, msg: /KDC could not be verified/ })
  t.match(
    logs.records().find((r) => r.msg === 'plugin hook failed'),
    { plugin: 'auth-kerberos', hook: 'authenticate', err: { message: /could not be verified with the keytab/ } },
  )
})

t.test('a KDC that is down is an outage, not a refusal', async (t) => {
  const gone = await startKdc({ realm: kdc.realm })
  const config = gone.krb5Config
  const copy = `${kdc.dir}/down-krb5.conf`
  const { readFileSync, writeFileSync } = await import('node:fs')
  writeFileSync(copy, readFileSync(config, 'utf8'))
  await gone.remove()
  const { bp } = await app(t, { realm: kdc.realm, service: kdc.service, keytab: kdc.keytab, krb5Config: copy, timeoutMs: 2000 })
  const res = await bp.app.inject(login('alice', password))
  t.equal(res.statusCode, 200)
  t.same(shown(res.body), { status: 'failed', username: 'alice', reason: 'authentication service unavailable' })
})

t.test('a missing keytab fails at start', async (t) => {
  const dir = tempPolicies({ 'p.ts': POLICY })
  t.teardown(() => dir.remove())
  await t.rejects(build(dir.config({ stateDir: `${dir.dir}/state`, plugins: [{ name: 'auth-kerberos', options: { realm: kdc.realm, service: kdc.service, keytab: '/nonexistent.keytab' } }] })), {
    code: 'BP_ERR_PLUGIN_HOOK',
    message: /keytab \/nonexistent\.keytab does not exist/,
  })
})
