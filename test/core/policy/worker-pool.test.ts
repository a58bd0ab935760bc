/**
 * The policy worker pool under faults no isolate time limit can stop: a worker thread that hangs
 * (a test hook, since the hardened wrapper leaves no policy-reachable way to do it) and a worker
 * terminated from outside. Through the real HTTP app on a real socket, with other clients'
 * latency measured meanwhile.
 */
import t, { type Test } from 'tap'
import type { AddressInfo } from 'node:net'
import { build } from '../../../core/http/build-app.js'
import { captureLogs } from '../../helpers/log-capture.js'
import { get, idleP99, p99, startProbe } from '../../helpers/latency-probe.js'
import { tempPolicies } from '../../helpers/policy-dir.js'

const TIMEOUT_MS = 50
/** 2 shared cores; a hung worker spins one of them until the watchdog, and its replacement starts up meanwhile. */
const FLOOR_MS = 400
const hex = (n: number) => (n & 0xff).toString(16).padStart(2, '0')
const others = (base: number) => (i: number) => (i % 3 === 2 ? '/healthz' : `/boot?mac=52:54:${hex(base)}:${hex(i >> 16)}:${hex(i >> 8)}:${hex(i)}`)

// Every test client is 127.0.0.1: the per-address connection cap (32) would refuse the bursts below.
async function serve(t: Test) {
  const dir = tempPolicies({ 'p.ts': `export default (ctx: any) => ({ kind: 'exit', message: 'ok ' + (ctx.mac ?? '') })` })
  t.teardown(() => dir.remove())
  const logs = captureLogs('info')
  const bp = await build(dir.config({ policies: { dir: dir.policiesDir, watch: false, timeoutMs: TIMEOUT_MS, workers: 2 }, http: { maxConnectionsPerAddress: 256 } }), { logger: logs.logger })
  t.teardown(() => bp.close())
  await bp.app.listen({ host: '127.0.0.1', port: 0 })
  const port = (bp.app.server.address() as AddressInfo).port
  t.match((await get(port, '/boot?mac=52:54:00:00:00:01')).body, /echo ok/, 'serving before the fault')
  return { bp, port, logs }
}

t.test('hazard: a worker thread that hangs is terminated by the watchdog and replaced', async (t) => {
  const { bp, port, logs } = await serve(t)
  const idle = await idleP99(port, others(1), 800)
  const before = bp.policyWorkers.workers
  const probes = [startProbe(port, others(2)), startProbe(port, others(3))]
  bp.policyWorkers.hangForTest('hang-here')
  const t0 = performance.now()
  const hung = await get(port, '/boot?x=hang-here', undefined, 15_000)
  const ms = performance.now() - t0
  t.match(hung.body, /^#!ipxe\n/)
  t.match(hung.body, /BP_ERR_POLICY_TIMEOUT/, 'the client whose request hung its worker gets the failsafe')
  // timeoutMs + the default margin (max(250 ms, timeoutMs)) + one watchdog tick (25 ms), plus slack for a busy machine.
  t.ok(ms <= TIMEOUT_MS + 250 + 25 + 200, `answered in ${ms.toFixed(0)} ms`)
  await new Promise((r) => setTimeout(r, 400))
  const during = (await Promise.all(probes.map((p) => p.stop()))).flat()
  const bound = Math.max(2 * idle, FLOOR_MS)
  t.ok(during.length > 10, `other clients kept asking (${during.length} requests)`)
  t.ok(p99(during) <= bound, `other clients' p99 ${p99(during).toFixed(1)} ms ≤ ${bound.toFixed(1)} ms (idle p99 ${idle.toFixed(1)} ms)`)
  t.equal(bp.policyWorkers.size, 2, 'the pool is back to its size')
  t.ok(
    bp.policyWorkers.workers.some((w) => !before.includes(w)),
    'with a new worker',
  )
  t.match((await get(port, '/boot?mac=52:54:00:00:00:02')).body, /echo ok 52:54:00:00:00:02/, 'serving resumes')
  const warn = logs.records().find((r) => r.code === 'BPWRN004')
  t.match(warn, { reason: 'watchdog', policy: 'p.ts' }, 'the log says which policy was running')
})

t.test('hazard: a worker terminated from outside is replaced and serving resumes', async (t) => {
  const { bp, port, logs } = await serve(t)
  const idle = await idleP99(port, others(1), 800)
  const probes = [startProbe(port, others(2)), startProbe(port, others(3))]
  await new Promise((r) => setTimeout(r, 200))
  const victim = bp.policyWorkers.workers[0]!
  await victim.terminate()
  await new Promise((r) => setTimeout(r, 600))
  const during = (await Promise.all(probes.map((p) => p.stop()))).flat()
  const bound = Math.max(2 * idle, FLOOR_MS)
  t.ok(
    during.every((ms) => Number.isFinite(ms)),
    'every other request was answered',
  )
  t.ok(p99(during) <= bound, `other clients' p99 ${p99(during).toFixed(1)} ms ≤ ${bound.toFixed(1)} ms (idle p99 ${idle.toFixed(1)} ms)`)
  t.notOk(bp.policyWorkers.workers.includes(victim), 'the terminated worker was replaced')
  // Both workers answer: more requests than one batch, in parallel.
  const answers = await Promise.all(Array.from({ length: 80 }, (_, i) => get(port, `/boot?mac=52:54:00:01:00:${hex(i)}`)))
  t.ok(
    answers.every((a, i) => a.body.includes(`echo ok 52:54:00:01:00:${hex(i)}`)),
    'serving resumes with the right decisions',
  )
  t.match(
    logs.records().find((r) => r.code === 'BPWRN004'),
    { reason: 'exit' },
  )
})

t.test('policies.workers sets the pool size; hot reload reaches every worker', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default () => ({ kind: 'exit', message: 'v1' })` })
  t.teardown(() => dir.remove())
  const bp = await build(dir.config({ policies: { dir: dir.policiesDir, watch: false, workers: 3 } }))
  t.teardown(() => bp.close())
  t.equal(bp.policyWorkers.size, 3)
  dir.write('p.ts', `export default () => ({ kind: 'exit', message: 'v2' })`)
  await bp.policies.load()
  const bodies = await Promise.all(Array.from({ length: 60 }, (_, i) => bp.app.inject(`/boot?mac=52:54:00:02:00:${hex(i)}`)))
  t.ok(
    bodies.every((r) => r.body.split('\n')[2] === 'echo v2'),
    'every worker serves the new version',
  )
})
