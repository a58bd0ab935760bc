/**
 * The admin's loop with the real CLI (bin/bootpolicy.js on the built dist/), in a site made by
 * `bootpolicy init` in a temp dir outside the repository: init, check, test, a type error;
 * init refuses to overwrite. Run `npm run build` first.
 */
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../../core/config/load-config.js'
import { initSite, runCli } from '../../helpers/site-dir.js'

// Each case spawns the real CLI several times (node, TypeScript, isolated-vm): on a loaded 2-core machine a file takes minutes.
t.setTimeout(600_000)

const TSC = join(PACKAGE_ROOT, 'node_modules/typescript/bin/tsc')

t.test('init makes a site outside the repository that check and test pass, and tsc sees the types', async (t) => {
  const site = initSite()
  t.teardown(() => site.remove())
  t.notOk(site.dir.startsWith(PACKAGE_ROOT), 'the site is outside the package')
  for (const f of ['bootpolicy.json', 'tsconfig.json', 'policies/10-by-mac.ts', 'policies/10-by-mac.test.ts', 'templates', 'files']) {
    t.ok(existsSync(join(site.dir, f)), f)
  }
  const config = JSON.parse(site.read('bootpolicy.json')) as { $schema: string }
  t.ok(existsSync(join(site.dir, config.$schema)), '$schema points at the published config.schema.json')
  const check = site.cli('check')
  t.equal(check.code, 0, check.out + check.err)
  t.match(check.out, /^ok: /m)
  const test = site.cli('test')
  t.equal(test.code, 0, test.out + test.err)
  t.match(test.out, /^3 passed, 0 failed$/m)
  // What an editor sees: the package's own tsc on the site's tsconfig.json, types from the installed package.
  t.doesNotThrow(() => execFileSync(process.execPath, [TSC, '-p', site.dir], { encoding: 'utf8' }), 'tsc -p site is clean')
})

t.test('hazard: a type error (ctx.prodcut) passed check; now it fails with file:line:col', async (t) => {
  const site = initSite()
  t.teardown(() => site.remove())
  site.write('policies/10-by-mac.ts', site.read('policies/10-by-mac.ts').replace('if (!machine) return undefined', 'if (!machine || ctx.prodcut === "x") return undefined'))
  const r = site.cli('check')
  t.equal(r.code, 1, r.out)
  t.match(r.out, /^policies\/10-by-mac\.ts:18:23: BP_ERR_POLICY_TYPE TS2551: Property 'prodcut' does not exist on type 'BootContext'\. Did you mean 'product'\?$/m)
  const json = JSON.parse(site.cli('check', '--format', 'json').out) as { ok: boolean; errors: number; problems: Record<string, unknown>[] }
  t.equal(json.ok, false)
  t.match(json.problems[0], { severity: 'error', file: 'policies/10-by-mac.ts', line: 18, col: 23, code: 'BP_ERR_POLICY_TYPE' })
  // The editor (tsc with the site's tsconfig.json) reports the same line.
  let tsc = ''
  try {
    execFileSync(process.execPath, [TSC, '-p', site.dir], { encoding: 'utf8' })
  } catch (err) {
    tsc = String((err as { stdout?: string }).stdout)
  }
  t.match(tsc, /policies\/10-by-mac\.ts\(18,23\): error TS2551/)
})

t.test('init refuses a non-empty directory and leaves it alone', async (t) => {
  const site = initSite()
  t.teardown(() => site.remove())
  site.write('policies/10-by-mac.ts', '// mine\n')
  const r = runCli(['init', 'site'], site.parent)
  t.equal(r.code, 2)
  t.match(r.err, /BP_ERR_CLI_USAGE: .*site is not empty/)
  t.equal(site.read('policies/10-by-mac.ts'), '// mine\n')
})
