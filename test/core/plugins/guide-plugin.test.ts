/** The "write a plugin" guide's example is this fixture, run for real; the guide must quote it verbatim. */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT, loadConfig } from '../../../core/config/load-config.js'
import { build } from '../../../core/http/build-app.js'
import { parseScript } from '../../helpers/ipxe-tokenize.js'

const fixture = (p: string) => join(PACKAGE_ROOT, 'test/fixtures', p)

t.test('the rack-map example plugin works as the guide says', async (t) => {
  const config = loadConfig({ file: fixture('rack-site/bootpolicy.json'), env: {}, overrides: { policies: { watch: false }, log: { level: 'silent' } } })
  const bp = await build(config)
  t.teardown(() => bp.close())
  const r1 = parseScript((await bp.app.inject('/boot?mac=52:54:00:00:00:01')).body).commands
  t.same(r1.find((c) => c.argv[0] === 'kernel')!.argv, ['kernel', '/files/r1/vmlinuz', 'rack=r1', 'initrd=initrd.img'])
  const r2 = parseScript((await bp.app.inject('/boot?mac=52:54:00:00:00:02')).body).commands
  t.same(
    r2
      .find((c) => c.argv[0] === 'echo')!
      .argv.slice(1)
      .join(' '),
    'not in rack r1: booting the local disk',
  )
  t.equal(bp.loadedPlugins[0]!.plugin.name, 'rack-map')
})

t.test('the guide quotes the fixture files verbatim', async (t) => {
  const guide = readFileSync(join(PACKAGE_ROOT, 'docs/guides/write-a-plugin.md'), 'utf8')
  for (const file of ['plugins/rack-map/index.ts', 'plugins/rack-map/policy-helpers.ts', 'rack-site/policies/10-by-rack.ts', 'rack-site/bootpolicy.json', 'rack-site/racks.json']) {
    t.ok(guide.includes(readFileSync(fixture(file), 'utf8').trim()), `${file} appears in the guide`)
  }
})

t.test("the guide's Node 20 command runs the TypeScript plugin through the real CLI; without tsx it is refused as documented", async (t) => {
  t.setTimeout(300_000)
  const guide = readFileSync(join(PACKAGE_ROOT, 'docs/guides/write-a-plugin.md'), 'utf8')
  const command = /```sh\n(node --import tsx node_modules\/bootpolicy\/bin\/bootpolicy\.js [^\n]+)\n```/.exec(guide)?.[1]
  t.ok(command, 'the guide shows the command')
  // In this repository bootpolicy is the package itself, not node_modules/bootpolicy.
  const argv = command!
    .split(' ')
    .slice(1)
    .map((a) => (a === 'node_modules/bootpolicy/bin/bootpolicy.js' ? join(PACKAGE_ROOT, 'bin/bootpolicy.js') : a))
  const cwd = fixture('rack-site')
  const run = spawnSync(process.execPath, argv, { cwd, encoding: 'utf8', timeout: 120_000 })
  t.equal(run.status, 0, run.stderr)
  t.match(run.stdout, /^kernel \/files\/r1\/vmlinuz rack=r1 initrd=initrd\.img/m)
  const plain = spawnSync(
    process.execPath,
    argv.filter((a) => a !== '--import' && a !== 'tsx'),
    { cwd, encoding: 'utf8', timeout: 120_000 },
  )
  t.equal(plain.status, 2)
  t.match(plain.stderr, /BP_ERR_PLUGIN_LOAD: .*Unknown file extension "\.ts"/)
})
