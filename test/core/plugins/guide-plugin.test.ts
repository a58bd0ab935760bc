/** The "write a plugin" guide's example is this fixture, run for real; the guide must quote it verbatim. */
import t from 'tap'
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
  t.same(r2.find((c) => c.argv[0] === 'echo')!.argv.slice(1).join(' '), 'not in rack r1: booting the local disk')
  t.equal(bp.loadedPlugins[0]!.plugin.name, 'rack-map')
})

t.test('the guide quotes the fixture files verbatim', async (t) => {
  const guide = readFileSync(join(PACKAGE_ROOT, 'docs/guides/write-a-plugin.md'), 'utf8')
  for (const file of ['plugins/rack-map/index.ts', 'plugins/rack-map/policy-helpers.ts', 'rack-site/policies/10-by-rack.ts', 'rack-site/bootpolicy.json', 'rack-site/racks.json']) {
    t.ok(guide.includes(readFileSync(fixture(file), 'utf8').trim()), `${file} appears in the guide`)
  }
})
