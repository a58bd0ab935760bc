/**
 * The decision record through the real /boot (app.inject, real policy workers): a one-line
 * summary of the decision without credentials, each policy step's revision (the compiled
 * bundle's hash) that changes with an edit, no print() lines on /boot, and print() lines in
 * explain that never hold a password (real slapd logins).
 */
import t from 'tap'
import { build } from '../../../core/http/build-app.js'
import { captureLogs } from '../../helpers/log-capture.js'
import { tempPolicies } from '../../helpers/policy-dir.js'
import { BASE_DN, startSlapd } from '../../helpers/slapd.js'

const KINDS = `import { again, boot, chain, exit, gap, item, login, menu, reboot, sanboot, shell, template, print } from 'bootpolicy/policy'
export default (ctx: any) => {
  print('ctx', ctx)
  switch (ctx.params.k) {
    case 'boot': return boot('http://user:secretpw@10.0.0.1/vmlinuz?token=tok123', { initrds: ['http://10.0.0.1/initrd.img'] })
    case 'sanboot': return sanboot('iscsi:10.0.0.2::::1:iqn.2020-01.lab:disk1')
    case 'httpsan': return sanboot('http://u:secretpw@10.0.0.3/disk.img')
    case 'menu': return menu({ title: 'Lab "boot"', items: [gap('Linux'), item('a', 'A', exit()), item('b', 'B', reboot())] })
    case 'chain': return chain('https://admin:secretpw@h.example/next.ipxe?sig=tok123#x')
    case 'again': return again({ step: '2', secretish: 'tok123' })
    case 'login': return login()
    case 'shell': return shell('msg')
    case 'template': return template('t1', { secret: 'tok123' })
    default: return undefined
  }
}`

t.test('the record summarizes each kind of decision in one line, without credentials or query strings', async (t) => {
  const dir = tempPolicies({ '10-kinds.ts': KINDS })
  t.teardown(() => dir.remove())
  const logs = captureLogs('info')
  const bp = await build(dir.config({ default: { kind: 'exit', message: 'default' } }), { logger: logs.logger })
  t.teardown(() => bp.close())
  const expected: Record<string, string> = {
    boot: 'kernel http://10.0.0.1/vmlinuz?… +1 initrd',
    sanboot: 'sanboot iscsi:10.0.0.2::::1:iqn.2020-01.lab:disk1',
    httpsan: 'sanboot http://10.0.0.3/disk.img',
    menu: 'menu "Lab \\"boot\\"" (2 items)',
    chain: 'chain https://h.example/next.ipxe?…',
    again: 'again step,secretish',
    login: 'login',
    shell: 'shell',
    none: 'exit',
  }
  for (const [k, summary] of Object.entries(expected)) {
    const r = await bp.app.inject(`/boot?k=${k}`)
    t.equal(r.statusCode, 200, k)
    const rec = logs
      .records()
      .filter((l) => l.msg === 'decision')
      .at(-1)!.decision as Record<string, unknown>
    t.equal(rec.summary, summary, k)
  }
  const logged = logs.lines.filter((l) => l.includes('"msg":"decision"')).join('\n')
  t.notMatch(logged, /secretpw|tok123/, 'no credential or token reaches the logged records')
  t.notMatch(logged, /"prints"/, 'a /boot record holds no print() lines (print is a no-op there)')
})

t.test('each step carries the revision of the policy version that ran; an edit changes it', async (t) => {
  const dir = tempPolicies({
    '10-pass.ts': `export default () => undefined`,
    '20-decide.ts': `export default () => ({ kind: 'exit', message: 'v1' })`,
    '30-never.ts': `export default () => ({ kind: 'reboot' })`,
  })
  t.teardown(() => dir.remove())
  const logs = captureLogs('info')
  const bp = await build(dir.config(), { logger: logs.logger })
  t.teardown(() => bp.close())
  const hashes = () => Object.fromEntries(bp.policies.policies.map((p) => [p.name, p.hash.slice(0, 12)]))
  const steps = async (q: string) => {
    const { record } = await bp.engine.handle({ query: q, remoteAddress: '192.0.2.1', requestId: 'r' })
    return record.policies.map((s) => `${s.policy}@${s.rev}:${s.outcome}`)
  }
  const v1 = hashes()
  t.same(await steps('mac=52:54:00:00:00:01'), [`10-pass.ts@${v1['10-pass.ts']}:passed`, `20-decide.ts@${v1['20-decide.ts']}:decided`], 'the steps up to the decider, each with its revision')
  t.same(await steps('mac=52:54:00:00:00:01'), [`10-pass.ts@${v1['10-pass.ts']}:passed`, `20-decide.ts@${v1['20-decide.ts']}:decided`], 'a memoized answer carries the same revisions')
  dir.write('20-decide.ts', `export default () => ({ kind: 'exit', message: 'v2' })`)
  await bp.policies.load()
  const v2 = hashes()
  t.not(v2['20-decide.ts'], v1['20-decide.ts'])
  t.equal(v2['10-pass.ts'], v1['10-pass.ts'], 'an unchanged policy keeps its revision')
  t.same(await steps('mac=52:54:00:00:00:01'), [`10-pass.ts@${v1['10-pass.ts']}:passed`, `20-decide.ts@${v2['20-decide.ts']}:decided`])
})

t.test('explain traces print() lines per step; after a real login they hold the principal, never the password', async (t) => {
  const slapd = await startSlapd()
  t.teardown(() => slapd.remove())
  const dir = tempPolicies({
    '10-show.ts': `import { print } from 'bootpolicy/policy'\nexport default (ctx: any) => { print('ctx', ctx); print(JSON.stringify(ctx)); return undefined }`,
    '20-welcome.ts': `import { print, exit } from 'bootpolicy/policy'\nexport default (ctx: any) => { print('user', ctx.auth.username); return exit('hi') }`,
  })
  t.teardown(() => dir.remove())
  const token = 'an-admin-token-of-some-length'
  const logs = captureLogs('info')
  const bp = await build(
    dir.config({
      http: { adminToken: token },
      plugins: [{ name: 'ldap', options: { url: slapd.url, bindDn: `uid={username},ou=people,${BASE_DN}` } }],
    }),
    { logger: logs.logger },
  )
  t.teardown(() => bp.close())
  const { alice } = slapd.users
  const r = await bp.app.inject({ method: 'POST', url: '/api/explain', headers: { authorization: `Bearer ${token}` }, payload: { username: alice.uid, password: alice.password, mac: 'nonsense' } })
  t.equal(r.statusCode, 200, r.body)
  t.notOk(r.body.includes(alice.password), 'the password is nowhere in the explain answer')
  const body = JSON.parse(r.body) as { record: { policies: { policy: string; prints?: string[]; rev?: string }[] }; dropped: unknown }
  const [show, welcome] = body.record.policies
  t.match(show!.prints![0], /^ctx \{.*"status":"authenticated","username":"alice"/)
  t.same(welcome!.prints, ['user alice'])
  t.same(body.dropped, [{ field: 'mac', reason: 'not a MAC address (12 hex digits, separated by : or - or not at all)' }])
  // The same login on /boot: decided, but no print lines collected.
  const boot = await bp.engine.handle({ query: `username=${alice.uid}&password=${encodeURIComponent(alice.password)}`, remoteAddress: '192.0.2.9', requestId: 'b' })
  t.equal(boot.record.decidedBy, 'policy:20-welcome.ts')
  t.notOk(
    boot.record.policies.some((s) => s.prints),
    'no prints on /boot',
  )
  t.notOk(
    logs.lines.some((l) => l.includes(alice.password)),
    'nor in any log line',
  )
})
