/**
 * The ldap plugin against a real slapd 2.5 on loopback: simple bind with a DN template,
 * search-then-bind with a service account, groups (memberOf and group search), host facts by MAC
 * with a cache, LDAPS and StartTLS with a CA file, injection attempts, and the directory going down.
 */
import t from 'tap'
import { Client } from 'ldapts'
import { build } from '../../../core/http/build-app.js'
import { captureLogs } from '../../../test/helpers/log-capture.js'
import { parseScript } from '../../../test/helpers/ipxe-tokenize.js'
import { tempPolicies } from '../../../test/helpers/policy-dir.js'
import { BASE_DN, startSlapd, type Slapd } from '../../../test/helpers/slapd.js'
import { escapeDnValue, escapeFilterValue, fillTemplate } from '../escape.js'

const POLICY = `export default (ctx: any) => ({ kind: 'exit', message: JSON.stringify({ auth: ctx.auth, ldap: ctx.plugins.ldap ?? null }) })`
const shown = (body: string): { auth: Record<string, unknown>; ldap: Record<string, unknown> | null } =>
  JSON.parse(
    parseScript(body)
      .commands.find((c) => c.argv[0] === 'echo')
      ?.argv.slice(1)
      .join(' ') ?? 'null',
  )
const hex = (s: string): string => (Buffer.from(s).toString('hex').match(/../g) ?? []).join(':')
const login = (username: string, password: string, extra = ''): string => `/boot?username_hex=${hex(username)}&password_hex=${hex(password)}${extra}`

let slapd: Slapd
t.before(async () => {
  slapd = await startSlapd()
})
t.teardown(() => slapd?.remove())

async function app(t: { teardown(fn: () => unknown): void }, options: Record<string, unknown>, logs = captureLogs('info')) {
  const dir = tempPolicies({ 'p.ts': POLICY })
  t.teardown(() => dir.remove())
  const bp = await build(dir.config({ plugins: [{ name: 'ldap', options }] }), { logger: logs.logger })
  t.teardown(() => bp.close())
  return { bp, logs }
}

const bindDn = `uid={username},ou=people,${BASE_DN}`

t.test('escaping: RFC 4514 DN values and RFC 4515 filter values', async (t) => {
  t.equal(escapeFilterValue('*)(uid=*'), '\\2a\\29\\28uid=\\2a')
  t.equal(escapeFilterValue('a\\b\u0000'), 'a\\5cb\\00')
  t.equal(escapeDnValue('a,b+c="d"<e>;f\\'), 'a\\,b\\+c\\=\\"d\\"\\<e\\>\\;f\\\\')
  t.equal(escapeDnValue('#lead trail '), '\\#lead trail\\ ')
  t.equal(escapeDnValue(' x'), '\\ x')
  t.equal(escapeDnValue('nl\n'), 'nl\\0a')
  t.equal(fillTemplate('(uid={username})', { username: '*' }, escapeFilterValue), '(uid=\\2a)')
  t.throws(() => fillTemplate('(uid={user})', { username: 'x' }, escapeFilterValue), /unknown placeholder \{user\}/)
})

t.test('escaping holds against the real server: an escaped * matches nothing, an unescaped one everybody', async (t) => {
  const c = new Client({ url: slapd.url })
  t.teardown(() => c.unbind())
  await c.bind(slapd.serviceDn, slapd.servicePassword)
  const raw = await c.search(`ou=people,${BASE_DN}`, { filter: '(uid=*)', attributes: ['1.1'] })
  const escaped = await c.search(`ou=people,${BASE_DN}`, { filter: `(uid=${escapeFilterValue('*')})`, attributes: ['1.1'] })
  t.equal(raw.searchEntries.length, 3)
  t.equal(escaped.searchEntries.length, 0)
})

t.test('simple bind with a DN template: good, wrong, unknown, empty password; groups from memberOf', async (t) => {
  const { bp } = await app(t, { url: slapd.url, bindDn })
  const { alice, bob } = slapd.users
  t.match(shown((await bp.app.inject(login(alice.uid, alice.password))).body).auth, {
    status: 'authenticated',
    username: 'alice',
    principal: { name: 'alice', groups: ['lab', 'staff'], source: 'ldap' },
  })
  t.match(shown((await bp.app.inject(login(bob.uid, bob.password))).body).auth, { status: 'authenticated', principal: { name: 'bob.smith', groups: ['staff'] } })
  t.same(shown((await bp.app.inject(login(alice.uid, 'wrong'))).body).auth, { status: 'failed', username: 'alice', reason: 'unknown user or wrong password' })
  t.same(shown((await bp.app.inject(login('mallory', 'whatever'))).body).auth, { status: 'failed', username: 'mallory', reason: 'unknown user or wrong password' })
  t.same(
    shown((await bp.app.inject(login(alice.uid, ''))).body).auth,
    { status: 'failed', username: 'alice', reason: 'unknown user or wrong password' },
    'an empty password is refused, never an unauthenticated bind',
  )
})

t.test('injection attempts in usernames never reach the directory as filter syntax', async (t) => {
  const { bp } = await app(t, { url: slapd.url, userSearch: { base: `ou=people,${BASE_DN}` }, serviceAccount: { dn: slapd.serviceDn, password: slapd.servicePassword } })
  for (const username of ['*', '*)(uid=*', 'alice)(|(uid=*', 'uid=alice,ou=people', 'alice\u0000']) {
    const plain = shown((await bp.app.inject(`/boot?username=${encodeURIComponent(username)}&password=x`)).body)
    t.same(plain.auth, { status: 'none' }, `${JSON.stringify(username)} is not a valid username: no credentials at all`)
    const viaHex = shown((await bp.app.inject(login(username, 'x'))).body)
    t.same(viaHex.auth, { status: 'none' }, `${JSON.stringify(username)} sent hex-encoded: dropped too`)
  }
})

t.test('search-then-bind with a service account; groups by group search', async (t) => {
  const { bp } = await app(t, {
    url: slapd.url,
    userSearch: { base: `ou=people,${BASE_DN}`, filter: '(&(objectClass=inetOrgPerson)(uid={username}))' },
    serviceAccount: { dn: slapd.serviceDn, password: slapd.servicePassword },
    groups: { from: 'search', base: `ou=groups,${BASE_DN}` },
  })
  const { alice, bob } = slapd.users
  t.match(shown((await bp.app.inject(login(alice.uid, alice.password))).body).auth, { status: 'authenticated', principal: { groups: ['lab', 'staff'] } })
  t.match(shown((await bp.app.inject(login(bob.uid, bob.password))).body).auth, { status: 'authenticated', principal: { groups: ['staff'] } })
  t.match(shown((await bp.app.inject(login(bob.uid, alice.password))).body).auth, { status: 'failed', reason: 'unknown user or wrong password' })
  t.match(shown((await bp.app.inject(login('nobody', 'x'))).body).auth, { status: 'failed', reason: 'unknown user or wrong password' })
})

t.test('LDAPS and StartTLS with a CA file; an untrusted certificate is an outage, not a login', async (t) => {
  const { alice } = slapd.users
  const ldaps = await app(t, { url: slapd.ldapsUrl, bindDn, tls: { caFile: slapd.caFile } })
  t.match(shown((await ldaps.bp.app.inject(login(alice.uid, alice.password))).body).auth, { status: 'authenticated' })
  const startTls = await app(t, { url: slapd.url, startTls: true, bindDn, tls: { caFile: slapd.caFile } })
  t.match(shown((await startTls.bp.app.inject(login(alice.uid, alice.password))).body).auth, { status: 'authenticated' })
  const untrusted = await app(t, { url: slapd.ldapsUrl, bindDn })
  t.match(shown((await untrusted.bp.app.inject(login(alice.uid, alice.password))).body).auth, { status: 'failed', reason: 'authentication service unavailable' })
  const failure = untrusted.logs.records().find((r) => r.msg === 'plugin hook failed')
  t.match(failure, { plugin: 'ldap', hook: 'authenticate', err: { code: 'BP_ERR_PLUGIN_HOOK', message: /LDAP server ldaps:\/\/127\.0\.0\.1:\d+ unavailable: .*self.signed/i } })
})

t.test('host facts by MAC, cached; slapd down: clear error, requests still answered; back up: works again', async (t) => {
  const { bp, logs } = await app(t, {
    url: slapd.url,
    bindDn,
    serviceAccount: { dn: slapd.serviceDn, password: slapd.servicePassword },
    hosts: { base: `ou=hosts,${BASE_DN}` },
    cache: { ttlMs: 60000 },
  })
  const { host, users } = slapd
  const first = shown((await bp.app.inject(`/boot?mac=${host.mac}`)).body)
  t.same(first.ldap, { host: { dn: `cn=${host.cn},ou=hosts,${BASE_DN}`, cn: host.cn, description: host.description, l: host.l, serialNumber: 'SN-0001' } })
  t.same(shown((await bp.app.inject('/boot?mac=52:54:00:00:00:99')).body).ldap, {}, 'an unknown MAC: an empty slot')

  await slapd.stop()
  const cached = await bp.app.inject(`/boot?mac=${host.mac}`)
  t.same(shown(cached.body).ldap, first.ldap, 'a cache hit needs no directory')
  const down = await bp.app.inject(`/boot?mac=52:54:00:00:00:01&username=alice&password=${encodeURIComponent(users.alice.password)}`)
  t.equal(down.statusCode, 200, 'the request is still answered')
  const seen = shown(down.body)
  t.equal(seen.ldap, null, 'enrich failed: no slot')
  t.same(seen.auth, { status: 'failed', username: 'alice', reason: 'authentication service unavailable' })
  const failures = logs.records().filter((r) => r.msg === 'plugin hook failed')
  t.ok(
    failures.some((r) => r.hook === 'enrich' && /LDAP server ldap:\/\/127\.0\.0\.1:\d+ unavailable: .*ECONNREFUSED/.test((r.err as { message: string }).message)),
    'enrich failure names the server',
  )
  t.ok(
    failures.some((r) => r.hook === 'authenticate' && r.plugin === 'ldap'),
    'authenticate failure logged with plugin and hook',
  )

  await slapd.start()
  t.match(shown((await bp.app.inject(login(users.alice.uid, users.alice.password))).body).auth, { status: 'authenticated' }, 'an outage is not counted as a failed login')
})

t.test('hazard: the LDAP principal name is the username as typed (ALICE and alice are two principals)', async (t) => {
  const { alice } = slapd.users
  for (const options of [
    { url: slapd.url, bindDn },
    { url: slapd.url, userSearch: { base: `ou=people,${BASE_DN}` }, serviceAccount: { dn: slapd.serviceDn, password: slapd.servicePassword } },
  ]) {
    const { bp } = await app(t, options)
    for (const typed of ['ALICE', 'Alice', 'alice']) {
      t.match(
        shown((await bp.app.inject(login(typed, alice.password))).body).auth,
        {
          status: 'authenticated',
          username: typed,
          principal: { name: 'alice', groups: ['lab', 'staff'], source: 'ldap' },
        },
        `${typed} → the directory's uid (${options.bindDn ? 'bind DN template' : 'search-then-bind'})`,
      )
    }
  }
  // A directory attribute other than uid names the principal when configured.
  const { bp } = await app(t, { url: slapd.url, bindDn, principalAttribute: 'cn' })
  t.match(shown((await bp.app.inject(login('BOB.SMITH', slapd.users.bob.password))).body).auth, { status: 'authenticated', principal: { name: 'bob.smith' } })
  const { bp: noAttr } = await app(t, { url: slapd.url, bindDn, principalAttribute: 'employeeNumber' })
  t.match(
    shown((await noAttr.app.inject(login('alice', alice.password))).body).auth,
    { status: 'failed', reason: 'authentication service unavailable' },
    'an entry without the attribute is an error, never a login under the typed name',
  )
})
