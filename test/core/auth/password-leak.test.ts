/**
 * A password sent to /boot reaches the authentication backend and nothing else: not the policies,
 * not any log line (access log and decision log at trace level included), not /metrics, not the
 * response, not an error. Sent through every auth plugin — PAM, Kerberos, LDAP, chained in one
 * app — on success, on failure, while a backend is down, as `password=` and as `password_hex=`.
 */
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { build } from '../../../core/http/build-app.js'
import { captureLogs } from '../../helpers/log-capture.js'
import { parseScript } from '../../helpers/ipxe-tokenize.js'
import { tempPolicies } from '../../helpers/policy-dir.js'
import { createPamUser } from '../../helpers/pam-user.js'
import { startKdc } from '../../helpers/kdc.js'
import { BASE_DN, startSlapd } from '../../helpers/slapd.js'
import { trailSecret } from '../../helpers/secret-trail.js'

const hexColon = (s: string): string => (Buffer.from(s).toString('hex').match(/../g) ?? []).join(':')

/** Every form a password could take on its way through: raw, URL-encoded, hex (both cases). */
function forms(password: string): string[] {
  const hex = Buffer.from(password).toString('hex')
  return [password, encodeURIComponent(password), hex, hex.toUpperCase(), hexColon(password), JSON.stringify(password).slice(1, -1)]
}

t.test('no password in logs, metrics, responses or errors: PAM, Kerberos and LDAP; success, failure, outage', async (t) => {
  const logs = captureLogs('trace')
  // Distinct secrets per case so that a hit says which path leaked.
  const secret = (label: string): string => {
    const s = `S3cr3t-${label}-${randomBytes(6).toString('hex')}`
    trailSecret(s)
    return s
  }
  const pamPassword = secret('pam')
  const krbPassword = secret('krb')
  const pamUser = createPamUser({ password: pamPassword })
  t.teardown(() => pamUser.remove())
  const kdc = await startKdc()
  t.teardown(() => kdc.remove())
  await kdc.addUser('kuser', krbPassword)
  const slapd = await startSlapd()
  t.teardown(() => slapd.remove())
  const ldapPassword = slapd.users.alice.password

  const dir = tempPolicies({ 'p.ts': `export default (ctx: any) => ({ kind: 'exit', message: JSON.stringify({ ctx }) })` })
  t.teardown(() => dir.remove())
  const bp = await build(
    dir.config({
      log: { level: 'trace' },
      stateDir: `${dir.dir}/state`,
      plugins: [
        { name: 'auth-pam', options: { service: pamUser.service } },
        { name: 'auth-kerberos', options: { realm: kdc.realm, service: kdc.service, keytab: kdc.keytab, krb5Config: kdc.krb5Config } },
        { name: 'ldap', options: { url: slapd.url, userSearch: { base: `ou=people,${BASE_DN}` }, serviceAccount: { dn: slapd.serviceDn, password: slapd.servicePassword } } },
      ],
    }),
    { logger: logs.logger },
  )
  t.teardown(() => bp.close())

  const secrets: string[] = [pamPassword, krbPassword, ldapPassword]
  const bodies: string[] = []
  const send = async (username: string, password: string, hex: boolean): Promise<Record<string, unknown>> => {
    if (!secrets.includes(password)) secrets.push(password)
    const url = hex
      ? `/boot?mac=52:54:00:aa:bb:cc&username_hex=${hexColon(username)}&password_hex=${hexColon(password)}`
      : `/boot?mac=52:54:00:aa:bb:cc&username=${encodeURIComponent(username)}&password=${encodeURIComponent(password)}`
    const res = await bp.app.inject(url)
    bodies.push(res.body)
    const echo =
      parseScript(res.body)
        .commands.find((c) => c.argv[0] === 'echo')
        ?.argv.slice(1)
        .join(' ') ?? '{}'
    return (JSON.parse(echo) as { ctx: { auth: Record<string, unknown> } }).ctx.auth
  }

  t.match(await send(pamUser.username, pamPassword, true), { status: 'authenticated', principal: { source: 'auth-pam' } }, 'PAM success')
  t.match(await send(pamUser.username, secret('pam-wrong'), false), { status: 'failed' }, 'PAM failure')
  t.match(await send('kuser', krbPassword, false), { status: 'authenticated', principal: { source: 'auth-kerberos' } }, 'Kerberos success (PAM does not know kuser)')
  t.match(await send('kuser', secret('krb-wrong'), true), { status: 'failed' }, 'Kerberos failure')
  t.match(await send('alice', ldapPassword, false), { status: 'authenticated', principal: { source: 'ldap', groups: ['lab', 'staff'] } }, 'LDAP success (neither PAM nor the KDC know alice)')
  t.match(await send('alice', secret('ldap-wrong'), true), { status: 'failed' }, 'LDAP failure')
  await slapd.stop()
  t.match(await send('alice', ldapPassword, false), { status: 'failed', reason: 'authentication service unavailable' }, 'LDAP down: an error path')
  await slapd.start()
  t.match(await send('nobody-at-all', secret('unknown'), false), { status: 'failed', reason: 'unknown user or wrong password' }, 'unknown everywhere')

  const metrics = (await bp.app.inject('/metrics')).body
  t.ok(
    logs.lines.some((l) => l.includes('request completed')),
    'the access log was captured',
  )
  t.ok(
    logs.lines.some((l) => l.includes('"msg":"decision"')),
    'the decision log was captured',
  )
  t.ok(
    logs.lines.some((l) => l.includes('plugin hook failed')),
    'the error path was logged',
  )
  let hits = 0
  for (const password of secrets) {
    for (const form of forms(password)) {
      for (const [i, line] of logs.lines.entries()) {
        if (line.includes(form)) {
          hits++
          t.fail(`log line ${i} contains a password (${form.slice(0, 12)}…): ${line.slice(0, 300)}`)
        }
      }
      if (metrics.includes(form)) t.fail('metrics contain a password')
      if (bodies.some((b) => b.includes(form))) t.fail('a response contains a password')
    }
  }
  t.equal(hits, 0, `${logs.lines.length} log lines, ${secrets.length} passwords × ${forms('x').length} forms: no leak`)
})
