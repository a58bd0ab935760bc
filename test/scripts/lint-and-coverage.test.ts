/**
 * The gates scripts/test.sh adds around tap: `biome check` refuses a file off the house style
 * (before tap runs), and the c8 report fails under the line floor of .c8rc.json.
 */
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { PACKAGE_ROOT } from '../../core/config/load-config.js'

t.setTimeout(300_000)
const bin = (name: string): string => join(PACKAGE_ROOT, 'node_modules/.bin', name)

t.test('biome check refuses a file off the house style and passes one in it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bp-lint-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  copyFileSync(join(PACKAGE_ROOT, 'biome.jsonc'), join(dir, 'biome.jsonc'))
  const run = () => spawnSync(bin('biome'), ['check', '--vcs-enabled=false', '.'], { cwd: dir, encoding: 'utf8', timeout: 60_000 })
  writeFileSync(join(dir, 'good.ts'), 'export const greeting = (name: string): string => `hello ${name}`\n')
  const good = run()
  t.equal(good.status, 0, good.stdout + good.stderr)
  writeFileSync(join(dir, 'quotes.ts'), 'export const a = "double";\n')
  const quotes = run()
  t.not(quotes.status, 0, 'double quotes and a semicolon are a format finding')
  t.match(quotes.stdout + quotes.stderr, /quotes\.ts/)
  rmSync(join(dir, 'quotes.ts'))
  writeFileSync(join(dir, 'lint.ts'), 'export function f(x: number): number {\n  if (x == 1) return 1\n  return x\n}\n')
  const lint = run()
  t.not(lint.status, 0, '== is a lint finding')
  t.match(lint.stdout + lint.stderr, /lint\/suspicious\/noDoubleEquals/)
})

t.test('scripts/test.sh lints before tap and fails the suite on findings', async (t) => {
  const script = readFileSync(join(PACKAGE_ROOT, 'scripts/test.sh'), 'utf8').split('\n')
  const lint = script.findIndex((l) => /^npm run -s lint$/.test(l))
  const tap = script.findIndex((l) => /^\s*npx tap /.test(l))
  t.ok(lint > 0 && tap > lint, 'npm run lint runs before tap')
  t.match(script[0], /bash/)
  t.ok(script.includes('set -euo pipefail'), 'a failing lint stops the suite (set -e)')
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  t.equal(pkg.scripts.lint, 'biome check --error-on-warnings .', 'warnings fail the lint too')
})

t.test('the coverage report fails under the floor of .c8rc.json and names it', async (t) => {
  const floor = (JSON.parse(readFileSync(join(PACKAGE_ROOT, '.c8rc.json'), 'utf8')) as { lines: number }).lines
  t.ok(floor > 0 && floor <= 100, `a floor of ${floor} %`)
  const dir = mkdtempSync(join(tmpdir(), 'bp-cov-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // One small module loaded: far under any real floor over all of core/ and plugins/.
  const env = { ...process.env, NODE_V8_COVERAGE: join(dir, 'v8'), NODE_OPTIONS: '' }
  const load = spawnSync(process.execPath, ['--import', 'tsx', '-e', "await import('./core/text/did-you-mean.ts')"], { cwd: PACKAGE_ROOT, env, encoding: 'utf8', timeout: 60_000 })
  t.equal(load.status, 0, load.stderr)
  const trim = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/trim-coverage.ts', join(dir, 'v8')], {
    cwd: PACKAGE_ROOT,
    env: { ...env, NODE_V8_COVERAGE: '' },
    encoding: 'utf8',
    timeout: 60_000,
  })
  t.match(trim.stdout, /trimmed to bootpolicy's files: [\d.]+ MB → [\d.]+ MB/, trim.stderr)
  const report = spawnSync(bin('c8'), ['report', '--temp-directory', join(dir, 'v8'), '--reports-dir', join(dir, 'report')], {
    cwd: PACKAGE_ROOT,
    encoding: 'utf8',
    timeout: 240_000,
    env: { ...process.env, NODE_V8_COVERAGE: '' },
  })
  t.equal(report.status, 1, 'c8 exits 1')
  t.match(report.stdout + report.stderr, new RegExp(`Coverage for lines \\([\\d.]+%\\) does not meet global threshold \\(${floor}%\\)`))
  t.match(report.stdout, /Lines\s+: [\d.]+%/, 'the summary is printed')
})

t.test("scripts/test.sh names each pass's failures again at the end of its output (CI keeps only the tail)", async (t) => {
  const script = readFileSync(join(PACKAGE_ROOT, 'scripts/test.sh'), 'utf8')
  const counts = /^counts\(\) \{\n[\s\S]*?\n\}$/m.exec(script)?.[0]
  t.ok(counts, 'the counts function is there')
  t.match(script, /if \[ -s "\$failures" \]; then\n {2}echo "== failed[^\n]*\n {2}cat "\$failures"\nfi\nexit "\$status"\s*$/, 'the list is the last thing printed before the exit')
  const dir = mkdtempSync(join(tmpdir(), 'bp-counts-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'first.log'), 'ok 1 - a.test.ts\n    not ok 2 - the inner assertion # time=3ms\nnot ok 3 - test/x.test.ts # time=1ms\n# { total: 3, pass: 1, fail: 2 }\n')
  writeFileSync(join(dir, 'second.log'), 'ok 1 - a.test.ts\n# { total: 1, pass: 1 }\n')
  const run = spawnSync(
    'bash',
    ['-c', `set -euo pipefail; status=0; failures="$1/failures"; : >"$failures"\n${counts}\ncounts "$1/first.log" tests\ncounts "$1/second.log" "tests on postgres"\ncat "$failures"`, 'sh', dir],
    { encoding: 'utf8', timeout: 30_000 },
  )
  t.equal(run.status, 0, run.stderr)
  t.same(run.stdout.trim().split('\n'), [
    'tests: 1 passed, 2 failed',
    'tests on postgres: 1 passed, 0 failed',
    'tests: not ok 2 - the inner assertion # time=3ms',
    'tests: not ok 3 - test/x.test.ts # time=1ms',
  ])
})
