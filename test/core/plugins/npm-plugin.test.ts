/**
 * A third-party plugin from npm, for real: `npm pack` the fixture, install the tarball into a
 * temporary project, and boot bootpolicy with a config that names the package.
 */
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PACKAGE_ROOT, loadConfig } from '../../../core/config/load-config.js'
import { build } from '../../../core/http/build-app.js'

t.test('a plugin packed and installed with npm loads by package name', async (t) => {
  const project = mkdtempSync(join(tmpdir(), 'bp-npm-project-'))
  t.teardown(() => rmSync(project, { recursive: true, force: true }))
  const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', project, join(PACKAGE_ROOT, 'test/fixtures/third-party-plugin')], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .pop()!
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'site', private: true, type: 'module' }))
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', '--silent', join(project, tarball)], { cwd: project, stdio: 'pipe' })

  mkdirSync(join(project, 'policies'))
  writeFileSync(join(project, 'policies', 'p.ts'), `import { greet } from 'bootpolicy/plugins/fixture'\nexport default (ctx: any) => greet(ctx.plugins.fixture.rack + '/' + ctx.mac)\n`)
  writeFileSync(
    join(project, 'bootpolicy.json'),
    JSON.stringify({
      policies: { dir: 'policies', watch: false },
      log: { level: 'silent' },
      plugins: [{ name: 'bootpolicy-plugin-fixture', options: { rack: 'r42' } }],
    }),
  )
  const bp = await build(loadConfig({ file: join(project, 'bootpolicy.json'), env: {} }))
  t.teardown(() => bp.close())
  t.equal(bp.loadedPlugins[0]!.plugin.name, 'fixture')
  t.match(bp.loadedPlugins[0]!.source, /node_modules\/bootpolicy-plugin-fixture\/index\.js$/)
  const res = await bp.app.inject('/boot?mac=52:54:00:00:00:07')
  t.equal(
    res.body
      .replace(/\nset bp-req \w+/, '')
      .split('\n')
      .slice(0, 3)
      .join('\n'),
    '#!ipxe\necho hello r42/52:54:00:00:00:07\nexit',
  )

  // The same package with options that break its schema: every violation at once.
  const bad = loadConfig({ file: join(project, 'bootpolicy.json'), env: {}, overrides: { plugins: [{ name: 'bootpolicy-plugin-fixture', options: { greeting: 5, extra: true } }] } })
  await t.rejects(build(bad), { code: 'BP_ERR_PLUGIN_OPTIONS', message: /rack.*greeting must be string|greeting.*must be string/ })
  await t.rejects(build(bad), { message: /must NOT have additional properties "extra"/ })
})
