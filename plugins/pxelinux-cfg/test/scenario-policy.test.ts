/** policies/pxelinux (seeds 003, 004): the policy's own cases, and the file a listed machine's pxelinux reads. */
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PACKAGE_ROOT, validateConfig } from '../../../core/config/load-config.js'
import { build } from '../../../core/http/build-app.js'
import { defaultImportables } from '../../../core/policy/compile-policy.js'
import { runPolicyTests } from '../../../core/policy/policy-tests.js'

const policiesDir = join(PACKAGE_ROOT, 'policies', 'pxelinux')
const helpers = fileURLToPath(new URL('../policy-helpers.ts', import.meta.url))

t.test('seed 003/004 scenario: cases pass; build01 chains lpxelinux.0 and reads its own pxelinux.cfg/01-<mac>', async (t) => {
  const state = mkdtempSync(join(tmpdir(), 'bp-pxe-scenario-'))
  t.teardown(() => rmSync(state, { recursive: true, force: true }))
  const config = validateConfig(
    {
      policies: { dir: policiesDir, watch: false },
      log: { level: 'silent' },
      stateDir: state,
      plugins: [{ name: 'pxelinux-cfg', options: { lpxelinuxUrl: 'http://192.168.2.14/files/lpxelinux.0' } }],
    },
    PACKAGE_ROOT,
  )
  const bp = await build(config)
  t.teardown(() => bp.close())

  const results = await runPolicyTests(policiesDir, { timeoutMs: 50, memoryMb: 32 }, defaultImportables([['bootpolicy/plugins/pxelinux-cfg', helpers]]), bp.plugins.kindValidators)
  t.ok(results.length >= 5)
  for (const r of results) t.equal(r.status, 'PASS', `${r.policy}: ${r.name}${r.message ? ` — ${r.message}` : ''}`)

  const res = await bp.app.inject({ url: '/boot?mac=00%3A12%3A34%3A56%3A78%3A90&ip=192.168.2.53', remoteAddress: '192.168.2.53' })
  t.match(res.body, /\nchain http:\/\/192\.168\.2\.14\/files\/lpxelinux\.0 \|\| goto bp_failed\n/)
  const file = await bp.app.inject({ url: '/files/pxelinux.cfg/01-00-12-34-56-78-90', remoteAddress: '192.168.2.53' })
  t.equal(file.statusCode, 200)
  t.matchSnapshot(file.body, 'pxelinux.cfg/01-00-12-34-56-78-90 for build01')
  t.equal((await bp.app.inject({ url: '/files/pxelinux.cfg/C0A80235', remoteAddress: '192.168.2.53' })).body, file.body, 'same file by IP')
  t.equal((await bp.app.inject('/files/pxelinux.cfg/default')).statusCode, 404, 'no defaultConfig: no default file')
  const unknown = await bp.app.inject('/boot?mac=52%3A54%3A00%3A00%3A00%3A99')
  t.match(unknown.body, /\nexit\n/, 'unknown machines get the configured default (exit)')
})
