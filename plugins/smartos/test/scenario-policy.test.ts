/** policies/smartos (seed 002): the policy's own cases, and the whole menu with real builds. */
import t from 'tap'

type Tap = { teardown(fn: () => unknown): void }
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PACKAGE_ROOT } from '../../../core/config/load-config.js'
import { build } from '../../../core/http/build-app.js'
import { defaultImportables } from '../../../core/policy/compile-policy.js'
import { runPolicyTests } from '../../../core/policy/policy-tests.js'
import { validateConfig } from '../../../core/config/load-config.js'
import { parseScript } from '../../../test/helpers/ipxe-tokenize.js'
import { smartosMenu } from '../policy-helpers.js'
import { HASH, smartosTree } from './helpers.js'

const policiesDir = join(PACKAGE_ROOT, 'policies', 'smartos')
const helpers = fileURLToPath(new URL('../policy-helpers.ts', import.meta.url))

async function app(t: Tap) {
  const tree = smartosTree()
  t.teardown(() => tree.remove())
  const config = validateConfig(
    {
      policies: { dir: policiesDir, watch: false },
      log: { level: 'silent' },
      stateDir: join(tree.root, '..', 'var'),
      plugins: [{ name: 'smartos', options: { root: tree.root, urlPrefix: 'http://10.1.1.7/smartos', rootShadow: HASH } }],
    },
    PACKAGE_ROOT,
  )
  const bp = await build(config)
  t.teardown(() => bp.close())
  return bp
}

t.test("the policy's cases pass (no builds in test cases: the policy passes)", async (t) => {
  const bp = await app(t)
  const results = await runPolicyTests(policiesDir, { timeoutMs: 50, memoryMb: 32 }, defaultImportables([['bootpolicy/plugins/smartos', helpers]]), bp.plugins.kindValidators)
  t.ok(results.length >= 2)
  for (const r of results) t.equal(r.status, 'PASS', `${r.policy}: ${r.name}${r.message ? ` — ${r.message}` : ''}`)
})

t.test('with builds: the seed 002 menu, item by item, and the newest build after 30 s', async (t) => {
  const bp = await app(t)
  const res = await bp.app.inject('/boot?mac=52:54:00:12:34:56')
  const { commands } = parseScript(res.body)
  const menuLines = commands.filter((c) => c.argv[0] === 'item').map((c) => c.argv.slice(1).join(' '))
  const d25 = '-'.repeat(25)
  const d30 = '-'.repeat(30)
  t.same(menuLines, [
    '--gap',
    `--gap -- ${d25} SmartOS option 1 ${d30}`,
    'bp_m0_i2 Boot SmartOS (20130808T195337Z)',
    'bp_m0_i3 Boot SmartOS (20130808T195337Z) noimport',
    `--gap -- ${'-'.repeat(73)}`,
    '--gap',
    `--gap -- ${d25} SmartOS option 2 ${d30}`,
    'bp_m0_i7 Boot SmartOS (20130405T010449Z)',
    'bp_m0_i8 Boot SmartOS (20130405T010449Z) noimport',
    `--gap -- ${d30} Utilities ${'-'.repeat(33)}`,
    'bp_m0_i10 Memtest86+ 5.01',
    'bp_m0_i11 Enter iPXE shell',
    'bp_m0_i12 Reboot',
    '--gap',
    'bp_m0_i14 Exit (boot local disk)',
  ])
  t.equal(
    commands
      .find((c) => c.argv[0] === 'menu')
      ?.argv.slice(1)
      .join(' '),
    "Welcome to iPXE's Boot Menu",
    'menu joins its arguments',
  )
  t.same(commands.find((c) => c.argv[0] === 'set' && c.argv[1] === 'bp_m0_t')?.argv, ['set', 'bp_m0_t', '30000'])
  t.match(commands.find((c) => c.argv[0] === 'choose')?.argv.join(' '), /--default bp_m0_i2/)
  const kernels = commands.filter((c) => c.argv[0] === 'kernel').map((c) => c.argv.slice(1).join(' '))
  t.same(kernels, [
    `http://10.1.1.7/smartos/20130808T195337Z/platform/i86pc/kernel/amd64/unix -B console=text,root_shadow='${HASH}',smartos=true`,
    `http://10.1.1.7/smartos/20130808T195337Z/platform/i86pc/kernel/amd64/unix -B console=text,root_shadow='${HASH}',smartos=true,noimport=true`,
    `http://10.1.1.7/smartos/20130405T010449Z/platform/i86pc/kernel/amd64/unix -B console=text,root_shadow='${HASH}',smartos=true`,
    `http://10.1.1.7/smartos/20130405T010449Z/platform/i86pc/kernel/amd64/unix -B console=text,root_shadow='${HASH}',smartos=true,noimport=true`,
    '/files/memtest86/memtest86-5.01',
  ])
  t.equal(commands.filter((c) => c.argv[0] === 'module').length, 4)
})

t.test('helper: one build gives one option; no builds give no menu', async (t) => {
  const ctx = (builds: string[] | undefined) => ({ arch: 'unknown', remoteAddress: '', params: {}, auth: { status: 'none' }, dropped: [], plugins: builds ? { smartos: { builds } } : {} }) as never
  t.equal(smartosMenu(ctx(undefined)), undefined)
  t.equal(smartosMenu(ctx([])), undefined)
  const one = smartosMenu(ctx(['20130808T195337Z']))!
  t.same(
    one.items.filter((i) => 'id' in i).map((i) => (i as { id: string }).id),
    ['smartos', 'smartos_noimport', 'shell', 'reboot', 'exit'],
  )
  const three = smartosMenu(ctx(['20140101T000000Z', '20130808T195337Z', '20130405T010449Z']), { builds: 3, timeoutMs: 5000 })!
  t.same(
    three.items
      .filter((i) => 'id' in i)
      .map((i) => (i as { id: string }).id)
      .slice(0, 6),
    ['smartos', 'smartos_noimport', 'smartos2', 'smartos_noimport2', 'smartos3', 'smartos_noimport3'],
  )
  t.equal(three.timeoutMs, 5000)
})
