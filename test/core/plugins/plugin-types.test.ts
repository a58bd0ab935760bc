/**
 * A third-party plugin's editor and `tsc` resolve `bootpolicy/plugin` and `bootpolicy/policy` types
 * from the installed package without dist/ being built: package.json's "types" conditions point at
 * the TypeScript sources. A copy of the package (package.json and core/, no dist/) is installed in
 * a temp dir beside the typed-plugin fixture, and the real compiler checks it under strict settings:
 * the good file is clean, and each mistake in wrong.ts is reported at its line.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PACKAGE_ROOT } from '../../../core/config/load-config.js'

t.setTimeout(600_000)

t.test('a TypeScript plugin type-checks against the package without dist/', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'bp-types-'))
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }))
  const pkg = join(tmp, 'bootpolicy')
  mkdirSync(pkg)
  cpSync(join(PACKAGE_ROOT, 'package.json'), join(pkg, 'package.json'))
  cpSync(join(PACKAGE_ROOT, 'core'), join(pkg, 'core'), { recursive: true })
  // bootpolicy's own dependencies (pino, ajv, …), as npm would have installed them.
  symlinkSync(join(PACKAGE_ROOT, 'node_modules'), join(pkg, 'node_modules'))
  t.notOk(existsSync(join(pkg, 'dist')), 'no dist/ in the installed copy')

  const site = join(tmp, 'plugin')
  mkdirSync(join(site, 'node_modules'), { recursive: true })
  symlinkSync(pkg, join(site, 'node_modules', 'bootpolicy'))
  symlinkSync(join(PACKAGE_ROOT, 'node_modules', '@types'), join(site, 'node_modules', '@types'))
  const fixture = fileURLToPath(new URL('../../fixtures/typed-plugin/', import.meta.url))
  cpSync(fixture, site, { recursive: true })
  writeFileSync(join(site, 'package.json'), JSON.stringify({ name: 'bootpolicy-plugin-rack', type: 'module' }))
  writeFileSync(
    join(site, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: ['node'] },
      include: ['*.ts'],
    }),
  )

  const tsc = spawnSync(process.execPath, [join(PACKAGE_ROOT, 'node_modules/typescript/bin/tsc'), '-p', '.', '--pretty', 'false'], { cwd: site, encoding: 'utf8', timeout: 300_000 })
  t.equal(tsc.error, undefined, 'tsc ran')
  const lines = tsc.stdout.split('\n').filter((l) => /error TS\d+/.test(l))
  t.same(
    lines.filter((l) => !l.startsWith('wrong.ts(')),
    [],
    'no error outside wrong.ts: index.ts and the package sources are clean',
  )
  const wrong = readFileSync(join(site, 'wrong.ts'), 'utf8').split('\n')
  const at = (needle: string) => wrong.findIndex((l) => l.includes(needle)) + 1
  const reported = lines.map((l) => /^wrong\.ts\((\d+),\d+\): error (TS\d+)/.exec(l)!.slice(1).join(' '))
  t.same(
    reported.sort(),
    [
      `${at("'BP_ERR_RACK_UNKOWN'")} TS2345`, // an undeclared code
      `${at('d.rak')} TS2551`, // a field the kind's decision does not have
      `${at('ctx.plugins.rack?.row')} TS2322`, // the augmented facts are typed (number, not string)
      `${at('BP_ERR_RACK_X')} TS2741`, // an error spec without `fix`
    ].sort(),
    tsc.stdout,
  )
  t.equal(tsc.status, 2, 'tsc exits 2 on the wrong file')
})
