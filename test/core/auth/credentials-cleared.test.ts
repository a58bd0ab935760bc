/**
 * After iPXE's `login`, the user's real password stays in its `username`/`password` settings,
 * which its iSCSI driver would send as CHAP and write into the iBFT for a later sanboot. Every
 * script answering a request that carried credentials clears them first thing (real slapd logins).
 */
import t from 'tap'
import { build } from '../../../core/http/build-app.js'
import { captureLogs } from '../../helpers/log-capture.js'
import { parseScript } from '../../helpers/ipxe-tokenize.js'
import { tempPolicies } from '../../helpers/policy-dir.js'
import { BASE_DN, startSlapd } from '../../helpers/slapd.js'

const hex = (s: string): string => (Buffer.from(s).toString('hex').match(/../g) ?? []).join(':')

t.test("hazard: after login the user's real password stays in iPXE's username/password settings", async (t) => {
  const slapd = await startSlapd()
  t.teardown(() => slapd.remove())
  const dir = tempPolicies({
    'p.ts': `export default (ctx: any) => ctx.auth.status === 'authenticated' ? { kind: 'exit', message: 'welcome ' + ctx.auth.principal.name } : { kind: 'exit', message: ctx.auth.status }`,
  })
  t.teardown(() => dir.remove())
  const bp = await build(dir.config({ plugins: [{ name: 'ldap', options: { url: slapd.url, bindDn: `uid={username},ou=people,${BASE_DN}` } }] }), { logger: captureLogs('info').logger })
  t.teardown(() => bp.close())
  const { alice } = slapd.users
  const lines = async (q: string): Promise<string[]> => parseScript((await bp.app.inject(`/boot?${q}`)).body).commands.map((c) => c.argv.join(' '))

  const cases: Array<[string, string]> = [
    [`username_hex=${hex(alice.uid)}&password_hex=${hex(alice.password)}`, 'echo welcome alice'],
    [`username=alice&password=${alice.password}`, 'echo welcome alice'],
    [`%75sername=alice&%FFFFFF70assword=${alice.password}`, 'echo welcome alice'],
    ['username=alice&password=wrong', 'echo failed'],
    ['username=bad%20name&password=x', 'echo none'], // dropped as malformed: iPXE still holds what was typed
  ]
  for (const [q, shown] of cases) {
    const argv = await lines(q)
    t.match(argv[0], /^set bp-req [0-9a-f]+$/, q)
    t.same(argv.slice(1, 3), ['clear username', 'clear password'], `cleared right after the request id: ${q}`)
    t.ok(argv.includes(shown), `${shown}: ${q}`)
  }
  const anonymous = await lines('mac=52-54-00-00-00-01')
  t.notOk(
    anonymous.some((l) => l.startsWith('clear ')),
    'a request without credentials has nothing to clear',
  )
})
