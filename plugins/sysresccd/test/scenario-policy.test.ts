/** policies/sysresccd (seed 001): the policy's own cases and the rendered menu over the legacy tree. */
import t from 'tap'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PACKAGE_ROOT, validateConfig } from '../../../core/config/load-config.js'
import { build } from '../../../core/http/build-app.js'
import { defaultImportables } from '../../../core/policy/compile-policy.js'
import { runPolicyTests } from '../../../core/policy/policy-tests.js'
import { parseScript } from '../../../test/helpers/ipxe-tokenize.js'
import { legacyTree } from './helpers.js'

const policiesDir = join(PACKAGE_ROOT, 'policies', 'sysresccd')
const helpers = fileURLToPath(new URL('../policy-helpers.ts', import.meta.url))

t.test('seed 001 scenario: cases pass; the menu boots SystemRescueCd with setkmap=de, CPU tested by iPXE', async (t) => {
  const tree = legacyTree()
  t.teardown(() => tree.remove())
  const config = validateConfig(
    {
      policies: { dir: policiesDir, watch: false },
      log: { level: 'silent' },
      stateDir: join(tree.base, 'var'),
      plugins: [{ name: 'sysresccd', options: { root: tree.root, httpBase: 'http://192.0.2.10/ipxe/sysresccd/' } }],
    },
    PACKAGE_ROOT,
  )
  const bp = await build(config)
  t.teardown(() => bp.close())

  const results = await runPolicyTests(policiesDir, { timeoutMs: 50, memoryMb: 32 }, defaultImportables([['bootpolicy/plugins/sysresccd', helpers]]), bp.plugins.kindValidators)
  t.ok(results.length >= 2)
  for (const r of results) t.equal(r.status, 'PASS', `${r.policy}: ${r.name}${r.message ? ` — ${r.message}` : ''}`)

  const res = await bp.app.inject('/boot?mac=52:54:00:12:34:56&buildarch=i386&platform=pcbios')
  const { commands } = parseScript(res.body)
  t.same(
    commands.filter((c) => c.argv[0] === 'kernel').map((c) => c.argv.slice(1)),
    [
      ['http://192.0.2.10/ipxe/sysresccd/isolinux/rescue64', 'setkmap=de', 'dodhcp', 'netboot=http://192.0.2.10/ipxe/sysresccd/sysrcd.dat', 'initrd=initram.igz'],
      ['http://192.0.2.10/ipxe/sysresccd/isolinux/rescue32', 'setkmap=de', 'dodhcp', 'netboot=http://192.0.2.10/ipxe/sysresccd/sysrcd.dat', 'initrd=initram.igz'],
    ],
  )
  t.match(res.body, /choose --timeout \$\{bp_m0_t\} --default bp_m0_i2 bp_m0_choice/)
})
