/**
 * `bootpolicy check` and `bootpolicy test` (bin/bootpolicy.js, built dist/) on policies whose
 * load-time code or microtasks throw hostile values: they report the policy as failing and exit,
 * instead of hanging. Build dist/ first (`npm run build`).
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../../core/config/load-config.js'
import { tempPolicies } from '../../helpers/policy-dir.js'

const HOSTILE = `(() => { const e = new Error('x'); Object.defineProperty(e, 'message', { get() { for (;;) {} } }); return e })()`

function cli(args: string[]) {
  const t0 = performance.now()
  // The 60 s kill is the test's own guard: the old code hung here forever.
  const r = spawnSync(process.execPath, [join(PACKAGE_ROOT, 'bin/bootpolicy.js'), ...args], { encoding: 'utf8', timeout: 60_000 })
  return { code: r.status, signal: r.signal, out: r.stdout, err: r.stderr, ms: performance.now() - t0 }
}

t.test('hazard: bootpolicy check and test on policies that throw hostile values at load and in microtasks exit non-zero within seconds', async (t) => {
  const dir = tempPolicies({
    'a-top.ts': `throw ${HOSTILE}\nexport default () => undefined\n`,
    'b-micro.ts': `export default () => { Promise.resolve().then(() => { throw ${HOSTILE} }); return null }\n`,
    'b-micro.test.ts': `export default [{ name: 'runs', request: {}, expect: null }]\n`,
    'c-async.ts': `export default () => { ;(async () => { throw ${HOSTILE} })(); return null }\n`,
    'c-async.test.ts': `export default [{ name: 'runs', request: {}, expect: null }]\n`,
    'd-toplevel-micro.ts': `Promise.resolve().then(() => { throw ${HOSTILE} })\nexport default () => undefined\n`,
  })
  t.teardown(() => dir.remove())
  const config = join(dir.dir, 'config.json')
  writeFileSync(config, JSON.stringify({ policies: { dir: 'policies', timeoutMs: 100 } }))
  // "Within seconds" on this host now: relative to the same commands on one benign policy (a loaded
  // CI host made a fixed 10 s bound fail at 10.7 s), and never under 10 s.
  const benign = tempPolicies({ 'a.ts': 'export default () => undefined\n', 'a.test.ts': `export default [{ name: 'runs', request: {}, expect: null }]\n` })
  t.teardown(() => benign.remove())
  const benignConfig = join(benign.dir, 'config.json')
  writeFileSync(benignConfig, JSON.stringify({ policies: { dir: 'policies', timeoutMs: 100 } }))
  const bound = (cmd: string): number => Math.max(10_000, 3 * cli([cmd, '--config', benignConfig]).ms)
  const checkBound = bound('check')
  const check = cli(['check', '--config', config])
  t.equal(check.signal, null, 'check exited on its own')
  t.equal(check.code, 1, check.err)
  t.ok(check.ms < checkBound, `check took ${check.ms.toFixed(0)} ms (bound ${checkBound.toFixed(0)} ms)`)
  t.match(check.out, /a-top\.ts:\d+:\d+: BP_ERR_POLICY_TIMEOUT .*time limit/, 'check names the top-level hostile throw')
  t.match(check.out, /d-toplevel-micro\.ts:\d+:\d+: BP_ERR_POLICY_TIMEOUT .*time limit/, 'check names the top-level hostile rejection')
  const testBound = bound('test')
  const test = cli(['test', '--config', config])
  t.equal(test.signal, null, 'test exited on its own')
  t.equal(test.code, 1, test.err)
  t.ok(test.ms < testBound, `test took ${test.ms.toFixed(0)} ms (bound ${testBound.toFixed(0)} ms)`)
  t.match(test.out, /ERROR\s+b-micro\.ts: runs\s+Policy b-micro\.ts exceeded its 100 ms time limit/, 'test reports the .then rejection as the policy timing out')
  t.match(test.out, /ERROR\s+c-async\.ts: runs\s+Policy c-async\.ts exceeded its 100 ms time limit/, 'test reports the async rejection as the policy timing out')
})
