/**
 * A third-party plugin (an npm package in the site's node_modules, using only `bootpolicy/plugin`)
 * contributes a CLI command, an error code and a decision kind, used end to end through the real
 * CLI: bin/bootpolicy.js on the built dist/ (run `npm run build` first), as child processes.
 */
import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PACKAGE_ROOT } from '../../../core/config/load-config.js'

t.setTimeout(600_000)

const fixture = fileURLToPath(new URL('../../fixtures/third-party-rack/', import.meta.url))

function site(t: Test): { dir: string; config: string } {
  if (!existsSync(join(PACKAGE_ROOT, 'dist/core/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` before this test')
  const dir = mkdtempSync(join(tmpdir(), 'bp-third-party-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'node_modules'))
  cpSync(fixture, join(dir, 'node_modules', 'bootpolicy-plugin-rack'), { recursive: true })
  // As `npm install bootpolicy` would leave it: the plugin's `bootpolicy/plugin` resolves to this package.
  symlinkSync(PACKAGE_ROOT, join(dir, 'node_modules', 'bootpolicy'))
  mkdirSync(join(dir, 'policies'))
  writeFileSync(join(dir, 'policies', 'lamp.ts'), `export default (ctx: { mac?: string }) => (ctx.mac ? { kind: 'rack.lamp', rack: ctx.mac.endsWith('01') ? 'r12' : 'twelve' } : undefined)\n`)
  const config = join(dir, 'bootpolicy.json')
  writeFileSync(
    config,
    JSON.stringify({ stateDir: join(dir, 'var'), log: { level: 'silent' }, policies: { dir: 'policies' }, plugins: [{ name: 'bootpolicy-plugin-rack', options: { color: 'red' } }] }),
  )
  return { dir, config }
}

function cli(cwd: string, args: string[]) {
  const r = spawnSync(process.execPath, [join(PACKAGE_ROOT, 'bin/bootpolicy.js'), ...args], { cwd, encoding: 'utf8', timeout: 60_000 })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

t.test('the plugin command runs with its flags and options, offline', async (t) => {
  const { dir } = site(t)
  const text = cli(dir, ['rack', '52:54:00:00:00:01', '--blink'])
  t.same(text, { code: 0, out: '52:54:00:00:00:01 r12 (blinking)\n', err: '' })
  const json = JSON.parse(cli(dir, ['rack', '52:54:00:00:00:01', '--format=json']).out) as Record<string, unknown>
  t.same(json, { mac: '52:54:00:00:00:01', rack: 'r12', blink: false, color: 'red', stateDir: join(dir, 'var', 'plugins', 'rack') }, 'validated options with defaults, its own state dir')
  t.notOk(existsSync(join(dir, 'setup-ran')), 'setup did not run for a command')
})

t.test('the plugin error code reaches the admin; bad input is a clear usage error', async (t) => {
  const { dir } = site(t)
  const unknown = cli(dir, ['rack', '52:54:00:00:00:99'])
  t.equal(unknown.code, 2)
  t.equal(unknown.err, 'bootpolicy: BP_ERR_RACK_UNKNOWN: No rack is known for machine 52:54:00:00:00:99\n')
  const hostile = cli(dir, ['rack', `${'\u001b[31m'.repeat(40)}x`])
  t.equal(hostile.code, 2)
  t.ok(hostile.err.length < 200, 'the plugin bounds what it echoes')
  const flag = cli(dir, ['rack', '52:54:00:00:00:01', '--blnk'])
  t.equal(flag.code, 2)
  t.match(flag.err, /BP_ERR_CLI_USAGE: unknown option --blnk; did you mean --blink\?/)
  const typo = cli(dir, ['rak', 'x'])
  t.equal(typo.code, 2)
  t.match(typo.err, /unknown command "rak"; did you mean "rack"\?/)
})

t.test('help lists the plugin command when a config is found, and nowhere else', async (t) => {
  const { dir } = site(t)
  const overview = cli(dir, ['--help'])
  t.equal(overview.code, 0, overview.err)
  t.match(overview.out, /Plugin commands \(from the configured plugins\):\n {2}rack MAC \[--blink\]\n +show the rack of a machine \(plugin rack\)\n$/)
  t.match(cli(dir, ['help', 'rack']).out, /^Usage: bootpolicy rack MAC \[--blink\] \[--config FILE\]/)
  t.match(cli(dir, ['rack', '--help']).out, /^Usage: bootpolicy rack MAC \[--blink\]/)
  const elsewhere = cli(tmpdir(), ['--help'])
  t.notMatch(elsewhere.out, /Plugin commands/)
  t.equal(cli(tmpdir(), ['rack']).code, 2, 'no config, no plugin command')
})

t.test('the decision kind validates and renders through check and explain', async (t) => {
  const { dir } = site(t)
  const check = cli(dir, ['check'])
  t.equal(check.code, 0, check.out + check.err)
  const good = cli(dir, ['explain', '--mac', '52:54:00:00:00:01'])
  t.equal(good.code, 0, good.err)
  t.match(good.out, /^kind: rack\.lamp$/m)
  t.match(good.out, /^echo rack r12 lamp red$/m)
  const bad = cli(dir, ['explain', '--mac', '52:54:00:00:00:02'])
  t.match(bad.out, /rack: expected r<number>/, 'the plugin validator refused the policy decision')
  t.notMatch(bad.out, /lamp red/)
})
