/**
 * `bootpolicy test` and `bootpolicy explain` as an admin runs them: real child processes of
 * bin/bootpolicy.js (built dist/), for --run, --verbose, print() under failing cases, chain tests,
 * --watch (files edited under a running child) and explain's dropped fields and print() trace.
 */
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../../core/config/load-config.js'
import { tempPolicies, type TempPolicies } from '../../helpers/policy-dir.js'

// Each case spawns the real CLI (node, TypeScript, isolated-vm): on a loaded 2-core machine this takes a while.
t.setTimeout(600_000)
const BIN = join(PACKAGE_ROOT, 'bin/bootpolicy.js')

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--no-node-snapshot', BIN, ...args], { encoding: 'utf8', timeout: 120_000 })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

function site(files: Record<string, string>): { dir: TempPolicies; config: string } {
  const dir = tempPolicies(files)
  const config = join(dir.dir, 'config.json')
  writeFileSync(config, JSON.stringify({ policies: { dir: 'policies' }, default: { kind: 'exit' } }))
  return { dir, config }
}

const POLICY = `import { print, exit, chain } from 'bootpolicy/policy'
export default (ctx: any) => {
  print('serial is', ctx.serial, '\\u001b[2J')
  if (ctx.serial === 'A1') return exit('a1')
  return ctx.mac ? chain('http://h/x') : undefined
}`
const TESTS = `import { cases } from 'bootpolicy/policy'
export default cases([
  { name: 'serial A1 exits', request: { serial: 'A1' }, expect: { kind: 'exit' } },
  { name: 'mac chains', request: { mac: '52:54:00:00:00:01' }, expect: { kind: 'chain' } },
  { name: 'wrong on purpose', request: { serial: 'B2' }, expect: { kind: 'exit' } },
])`

t.test('print lines show under a failing case only, under all with --verbose, with control characters escaped', async (t) => {
  const { dir, config } = site({ '10-a.ts': POLICY, '10-a.test.ts': TESTS })
  t.teardown(() => dir.remove())
  const r = cli(['test', '--config', config])
  t.equal(r.code, 1, r.err)
  t.match(r.out, /^FAIL {2}10-a\.ts: wrong on purpose\n {6}\$: expected .*\n {6}print: serial is B2 \\u001b\[2J$/m)
  t.notMatch(r.out, /print: serial is A1/, 'a passing case shows no prints')
  t.notMatch(r.out, /\u001b/, 'no raw escape reaches the terminal')
  const v = cli(['test', '--config', config, '--verbose'])
  t.match(v.out, /^PASS {2}10-a\.ts: serial A1 exits\n {6}print: serial is A1 /m)
  const json = JSON.parse(cli(['test', '--config', config, '--format', 'json']).out)
  t.same(
    json.results.map((x: { prints: string[] }) => x.prints[0]),
    ['serial is A1 \u001b[2J', 'serial is undefined \u001b[2J', 'serial is B2 \u001b[2J'],
    'JSON keeps the exact lines',
  )
})

t.test('--run selects cases by "policy: case name"; a bad pattern is a usage error', async (t) => {
  const { dir, config } = site({
    '10-a.ts': POLICY,
    '10-a.test.ts': TESTS,
    'chain.test.ts': `import { cases } from 'bootpolicy/policy'\nexport default cases.chain([{ name: 'mac chains across the chain', request: { mac: '52:54:00:00:00:01' }, expect: { decidedBy: 'policy:10-a.ts', decision: { kind: 'chain', url: 'http://h/x' } } }])`,
  })
  t.teardown(() => dir.remove())
  const r = cli(['test', '--config', config, '--run', 'mac chains'])
  t.equal(r.code, 0, r.out + r.err)
  t.same(r.out.trim().split('\n'), ['PASS  10-a.ts: mac chains', 'PASS  chain.test.ts: mac chains across the chain', '2 passed, 0 failed'])
  const none = cli(['test', '--config', config, '--run', '^zzz'])
  t.equal(none.code, 1, 'no case ran is a failure')
  t.match(none.out, /0 passed, 0 failed \(no case matches --run \^zzz\)/)
  const bad = cli(['test', '--config', config, '--run', '(unclosed'])
  t.equal(bad.code, 2)
  t.match(bad.err, /BP_ERR_CLI_USAGE: .*--run: not a regular expression/)
  const missing = cli(['test', '--config', config, '--run'])
  t.equal(missing.code, 2)
  t.match(missing.err, /--run needs a pattern/)
})

t.test('--watch re-runs after edits (a burst of writes is one run) and exits on SIGINT with the last status', async (t) => {
  const { dir, config } = site({ '10-a.ts': POLICY, '10-a.test.ts': TESTS })
  t.teardown(() => dir.remove())
  const child = spawn(process.execPath, ['--no-node-snapshot', BIN, 'test', '--config', config, '--watch'], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d))
  const runs = () => out.split('watching ').length - 1
  const until = async (what: string, ok: () => boolean, ms = 90_000) => {
    const t0 = Date.now()
    while (!ok()) {
      if (Date.now() - t0 > ms || child.exitCode !== null) throw new Error(`timed out waiting for ${what}; output so far:\n${out}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  await until('the first run', () => runs() === 1)
  t.match(out, /2 passed, 1 failed/)
  // Fix the failing case in a burst of partial writes, as editors do.
  const fixed = TESTS.replace(`{ serial: 'B2' }, expect: { kind: 'exit' }`, `{ serial: 'B2' }, expect: null`)
  for (let i = 0; i < 5; i++) writeFileSync(join(dir.policiesDir, '10-a.test.ts'), i < 4 ? fixed.slice(0, 40 * (i + 1)) : fixed)
  await until('the re-run', () => /3 passed, 0 failed/.test(out))
  await new Promise((r) => setTimeout(r, 1000)) // any extra run the burst caused would show by now
  t.equal(runs(), 2, 'five writes within the debounce window: one re-run')
  // A broken policy edit shows as an ERROR, and the watcher keeps going.
  writeFileSync(join(dir.policiesDir, '10-a.ts'), 'export default (ctx: any) => {')
  await until('the run after a broken edit', () => runs() === 3)
  t.match(out.split('watching ').at(-2), /ERROR 10-a\.ts: \(load\)\n.*does not compile: 10-a\.ts:1:/)
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
  child.kill('SIGINT')
  t.equal(await exit, 1, 'the last run failed: exit 1')
})

t.test("explain lists dropped fields with the reason, and each policy's print lines and revision", async (t) => {
  const { dir, config } = site({ '10-a.ts': POLICY })
  t.teardown(() => dir.remove())
  const r = cli(['explain', '--config', config, '--mac', 'zz:zz', '--serial', 'A1', '--ip', '999.1.1.1'])
  t.equal(r.code, 0, r.err)
  t.match(r.out, /^decided by: policy:10-a\.ts\nkind: exit\ndecision: exit\n/)
  t.match(r.out, /^dropped: mac — not a MAC address/m)
  t.match(r.out, /^dropped: ip — not a dotted IPv4 address$/m)
  t.match(r.out, /^ {2}decided 10-a\.ts@[0-9a-f]{12} \(\d+ µs\)\n {10}print: serial is A1 \\u001b\[2J$/m)
  const json = JSON.parse(cli(['explain', '--config', config, '--mac', 'zz:zz', '--format', 'json']).out)
  t.same(json.dropped, [{ field: 'mac', reason: 'not a MAC address (12 hex digits, separated by : or - or not at all)' }])
  t.match(json.record.policies[0], { policy: '10-a.ts', outcome: 'passed', rev: /^[0-9a-f]{12}$/, prints: ['serial is undefined \u001b[2J'] })
  t.equal(json.record.summary, 'exit', 'nobody decided: the configured default')
})
