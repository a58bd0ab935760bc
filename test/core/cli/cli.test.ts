/** The CLI as an admin runs it: bin/bootpolicy.js (built dist/), exit codes and output. */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../../core/config/load-config.js'
import { tempPolicies } from '../../helpers/policy-dir.js'

// Each case spawns the real CLI several times (node, TypeScript, isolated-vm): on a loaded 2-core machine a file takes minutes.
t.setTimeout(600_000)

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [join(PACKAGE_ROOT, 'bin/bootpolicy.js'), ...args], { encoding: 'utf8', timeout: 60_000 })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

t.test('bootpolicy test passes on the shipped examples and prints PASS per case', async (t) => {
  const r = cli(['test'])
  t.equal(r.code, 0, r.err)
  t.match(r.out, /^PASS {2}10-per-mac\.ts: pxelinux machine chains pxelinux$/m)
  t.match(r.out, /^\d+ passed, 0 failed$/m)
  const json = JSON.parse(cli(['test', '--format', 'json']).out)
  t.equal(json.failed, 0)
})

t.test('bootpolicy test exits 1 on a failing case; check exits 1 with file:line', async (t) => {
  const dir = tempPolicies({
    'a.ts': `export default () => ({ kind: 'exit' })`,
    'a.test.ts': `export default [{ name: 'wants chain', request: {}, expect: { kind: 'chain' } }]`,
    'b.ts': `export default () => ({ kind: 'exit' )`,
  })
  t.teardown(() => dir.remove())
  const config = join(dir.dir, 'config.json')
  writeFileSync(config, JSON.stringify({ policies: { dir: 'policies' } }))
  const test = cli(['test', '--config', config])
  t.equal(test.code, 1)
  t.match(test.out, /FAIL {2}a\.ts: wants chain/)
  const check = cli(['check', '--config', config])
  t.equal(check.code, 1)
  t.match(check.out, /b\.ts:1:\d+: BP_ERR_POLICY_COMPILE .*b\.ts:1:\d+/)
})

t.test('bootpolicy check reports every config violation at once', async (t) => {
  const dir = tempPolicies()
  t.teardown(() => dir.remove())
  const config = join(dir.dir, 'bad.json')
  writeFileSync(config, JSON.stringify({ http: { port: 'eighty', bogus: 1 }, policies: { timeoutMs: -1 } }))
  const r = cli(['check', '--config', config])
  t.equal(r.code, 1)
  t.match(r.out, /\/http\/port: must be integer/)
  t.match(r.out, /\/http: must NOT have additional properties "bogus"/)
  t.match(r.out, /\/policies\/timeoutMs: must be >= 1/)
})

t.test('bootpolicy explain shows who decided and the script', async (t) => {
  const r = cli(['explain', '--mac', '00:11:22:33:44:55'])
  t.equal(r.code, 0, r.err)
  t.match(r.out, /decided by: policy:10-per-mac\.ts/)
  t.match(r.out, /sanboot iscsi:san\.example\.com/)
  t.equal(cli(['frobnicate']).code, 2)
})

t.test("bootpolicy test loads the configured plugins' helpers and kinds (without running them)", async (t) => {
  const dir = tempPolicies()
  t.teardown(() => dir.remove())
  const config = join(dir.dir, 'smartos.json')
  writeFileSync(
    config,
    JSON.stringify({
      policies: { dir: join(PACKAGE_ROOT, 'policies/smartos') },
      plugins: [{ name: 'smartos', options: { root: join(dir.dir, 'no-such-dir'), urlPrefix: '/files/smartos', rootShadow: '$5$s4ltS4lt$Xk2vQw9Lr8m3N7pT1yZb0cD5eF6gH4iJ2kL8mN0pQr7' } }],
    }),
  )
  const r = cli(['test', '--config', config])
  t.equal(r.code, 0, r.out + r.err)
  t.match(r.out, /^PASS {2}20-smartos-menu\.ts:/m)
})
