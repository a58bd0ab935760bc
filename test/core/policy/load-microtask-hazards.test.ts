/**
 * Hazards from a policy's load-time (top-level) code and from its microtasks: values isolated-vm
 * would read on the worker's thread with no time limit. Through the real HTTP app on a real
 * socket: the hostile policy is reported, other clients keep answering (p99 ≤ 2× idle, floor
 * 400 ms as in worker-pool.test.ts: a hung worker spins one of 2 shared cores until the watchdog).
 */
import t, { type Test } from 'tap'
import type { AddressInfo } from 'node:net'
import { build, type Bootpolicy } from '../../../core/http/build-app.js'
import { captureLogs } from '../../helpers/log-capture.js'
import { get, idleP99, p99, startProbe } from '../../helpers/latency-probe.js'
import { tempPolicies } from '../../helpers/policy-dir.js'

const TIMEOUT_MS = 50
const FLOOR_MS = 400
/**
 * A trigger is answered, not hung: the limit or the watchdog (timeout + 250 ms) cut it. Not a speed
 * bound: a loaded CI host took 862 ms for what takes 400 on a quiet one; a worker nobody cut would
 * run into the client's 15 s. Which of the two cut it is asserted by the BPWRN004 lines.
 */
const ANSWERED_MS = 5000
/** The server starts (a hostile load never returned): a loaded host took 29 s, a quiet one ~2 s. */
const STARTED_MS = 120_000
const hex = (n: number) => (n & 0xff).toString(16).padStart(2, '0')
const others = (base: number) => (i: number) => (i % 3 === 2 ? '/healthz' : `/boot?mac=52:54:${hex(base)}:${hex(i >> 16)}:${hex(i >> 8)}:${hex(i)}`)
/** An Error whose message getter never returns: read outside the isolate's time limit, it hangs that thread. */
const HOSTILE = `(() => { const e = new Error('x'); Object.defineProperty(e, 'message', { get() { for (;;) {} } }); return e })()`
const OK = `export default (ctx: any) => ({ kind: 'exit', message: 'ok ' + (ctx.mac ?? '') })`

interface Served {
  bp: Bootpolicy
  port: number
  logs: ReturnType<typeof captureLogs>
  buildMs: number
}

async function serve(t: Test, files: Record<string, string>, policies: Record<string, unknown> = {}): Promise<Served> {
  const dir = tempPolicies({ ...files, '90-ok.ts': OK })
  t.teardown(() => dir.remove())
  const logs = captureLogs('info')
  const t0 = performance.now()
  const bp = await build(dir.config({ policies: { dir: dir.policiesDir, watch: false, timeoutMs: TIMEOUT_MS, workers: 2, ...policies } }), { logger: logs.logger })
  const buildMs = performance.now() - t0
  t.teardown(() => bp.close())
  await bp.app.listen({ host: '127.0.0.1', port: 0 })
  return { bp, port: (bp.app.server.address() as AddressInfo).port, logs, buildMs }
}

type Problem = { policy?: string; code?: string; message?: string }
async function healthProblems(port: number): Promise<Problem[]> {
  return (JSON.parse((await get(port, '/healthz')).body) as { problems: Problem[] }).problems
}

/** Other clients are served promptly by the good policy. */
async function othersServed(t: Test, port: number): Promise<void> {
  for (let i = 0; i < 5; i++) {
    const r = await get(port, `/boot?mac=52:54:00:00:01:${hex(i)}`, undefined, 10_000)
    t.match(r.body, new RegExp(`echo ok 52:54:00:00:01:${hex(i)}`), `client ${i} is served by the good policy`)
    t.ok(r.ms < 1000, `client ${i} answered in ${r.ms.toFixed(0)} ms`)
  }
}

t.test('hazard: top-level code that throws a hostile value (looping message getter, Proxy, looping prepareStackTrace) is read inside the isolate and reported', async (t) => {
  const files = {
    '10-getter.ts': `throw ${HOSTILE}\nexport default () => undefined\n`,
    '11-proxy.ts': `throw new Proxy({}, { get() { for (;;) {} } })\nexport default () => undefined\n`,
    '12-pst.ts': `;(Error as any).prepareStackTrace = () => { for (;;) {} }\nthrow new Error('with a stack')\nexport default () => undefined\n`,
    '13-plain.ts': `throw new Error('plain load failure')\nexport default () => undefined\n`,
  }
  const { port, logs, buildMs } = await serve(t, files)
  t.ok(buildMs < STARTED_MS, `the server started in ${buildMs.toFixed(0)} ms`)
  const problems = await healthProblems(port)
  for (const name of ['10-getter.ts', '11-proxy.ts', '12-pst.ts']) {
    t.match(
      problems.find((p) => p.policy === name),
      { code: 'BP_ERR_POLICY_TIMEOUT' },
      `${name} is reported as hitting its time limit while loading`,
    )
  }
  t.match(
    problems.find((p) => p.policy === '13-plain.ts'),
    { code: 'BP_ERR_POLICY_THREW', message: /plain load failure/ },
    'a plain top-level throw is reported with its message',
  )
  t.notOk(
    logs.records().some((r) => r.code === 'BPWRN004'),
    'no worker had to be killed: the isolate time limit stopped every read',
  )
  await othersServed(t, port)
})

t.test('hazard: a top-level microtask that rejects with a hostile error is stopped by the time limit while loading', async (t) => {
  const files = { '10-top-micro.ts': `Promise.resolve().then(() => { throw ${HOSTILE} })\nexport default () => ({ kind: 'exit', message: 'evil' })\n` }
  const { port, logs, buildMs } = await serve(t, files)
  t.ok(buildMs < STARTED_MS, `the server started in ${buildMs.toFixed(0)} ms`)
  const problems = await healthProblems(port)
  t.match(
    problems.find((p) => p.policy === '10-top-micro.ts'),
    { code: 'BP_ERR_POLICY_TIMEOUT', message: /10-top-micro\.ts/ },
    'the policy is reported as timed out while loading, and not installed',
  )
  t.notOk(
    logs.records().some((r) => r.code === 'BPWRN004'),
    'no worker had to be killed',
  )
  await othersServed(t, port)
})

const MICROTASKS = [
  ['a .then callback', `Promise.resolve().then(() => { throw ${HOSTILE} })\n  return null`],
  ['an async function', `;(async () => { throw ${HOSTILE} })()\n  return null`],
  ['Promise.reject', `Promise.reject(${HOSTILE})\n  return null`],
  ['an async generator', `;(async function* () { throw ${HOSTILE} })().next()\n  return null`],
  ['the constructor of a promise', `new (Promise.resolve().constructor as any)((_: unknown, reject: (e: unknown) => void) => reject(${HOSTILE}))\n  return null`],
] as const

t.test(
  'hazard: a flood of distinct requests whose microtask rejects with a hostile error (.then, async function, async generator, Promise.reject, promise constructor) is stopped by the time limit, no worker is lost',
  async (t) => {
    for (const [label, body] of MICROTASKS)
      await t.test(label, async (t) => {
        const files = { '10-micro.ts': `export default function (ctx: any): any {\n  if (!ctx.params.h) return undefined\n  ${body}\n}\n` }
        const { bp, port, logs } = await serve(t, files)
        const idle = await idleP99(port, others(1), 800)
        const probes = [startProbe(port, others(2)), startProbe(port, others(3))]
        const t0 = performance.now()
        for (let k = 0; k < 6 || performance.now() - t0 < 800; k++) {
          const r = await get(port, `/boot?h=${k}&mac=52:54:00:00:02:${hex(k)}`, undefined, 15_000)
          t.match(r.body, /BP_ERR_POLICY_TIMEOUT/, `trigger ${k} gets the failsafe naming the time limit`)
          t.ok(r.ms <= ANSWERED_MS, `trigger ${k} answered in ${r.ms.toFixed(0)} ms`)
        }
        const during = (await Promise.all(probes.map((p) => p.stop()))).flat()
        const bound = Math.max(2 * idle, FLOOR_MS)
        t.ok(during.length > 10, `other clients kept asking (${during.length} requests)`)
        t.ok(p99(during) <= bound, `other clients' p99 ${p99(during).toFixed(1)} ms ≤ ${bound.toFixed(1)} ms (idle p99 ${idle.toFixed(1)} ms)`)
        t.notOk(
          logs.records().some((r) => r.code === 'BPWRN004'),
          'no worker had to be killed',
        )
        t.equal(bp.policyWorkers.size, 2)
      })
  },
)

const LOAD_HANG = 'HANG-WHILE-LOADING'
t.test('hazard: a verify whose worker the watchdog kills reports the policy as timed out, and the verifies queued behind it are really run', async (t) => {
  // Test hook: no policy-reachable way to hang a worker's thread is left to use here (the ones
  // found are fixed above), so the worker spins in a JS loop while loading a marked policy.
  const { WorkerPool } = await import('../../../core/policy/worker-pool.js')
  const { compilePolicy } = await import('../../../core/policy/compile-policy.js')
  const dir = tempPolicies({
    'hangs.ts': `export default () => ({ kind: 'exit', message: '${LOAD_HANG}' })\n`,
    'throws.ts': `throw new Error('really verified')\nexport default () => undefined\n`,
    'fine.ts': OK,
  })
  t.teardown(() => dir.remove())
  const compiled = await Promise.all(['hangs.ts', 'throws.ts', 'fine.ts'].map((n) => compilePolicy(`${dir.policiesDir}/${n}`, dir.policiesDir)))
  const kills: unknown[] = []
  const pool = new WorkerPool({ size: 1, limits: { timeoutMs: TIMEOUT_MS, memoryMb: 64 }, onError: 'failsafe', onReplace: (i) => kills.push(i) })
  t.teardown(() => pool.close())
  pool.hangPolicyForTest(LOAD_HANG)
  const t0 = performance.now()
  const [hung, queued] = await Promise.all([pool.verify([compiled[0]!]), pool.verify([compiled[1]!, compiled[2]!])])
  const ms = performance.now() - t0
  t.match(hung, [{ policy: 'hangs.ts', code: 'BP_ERR_POLICY_TIMEOUT', message: /hangs\.ts/ }], 'the policy being loaded is reported as timed out, not as loaded')
  t.equal(hung.length, 1)
  t.match(queued, [{ policy: 'throws.ts', code: 'BP_ERR_POLICY_THREW', message: /really verified/ }], 'the verify queued behind it ran in the new worker')
  t.equal(queued.length, 1, 'and found the good policy fine')
  t.match(kills, [{ reason: 'watchdog', policy: 'hangs.ts' }], 'the watchdog killed one worker, naming the policy')
  t.ok(ms < 2 * ANSWERED_MS, `both answered in ${ms.toFixed(0)} ms`)
})

const RUN_HANG = 'HANG-WHEN-RUN'
async function quarantineServe(t: Test, onError: 'failsafe' | 'next') {
  const files = { '10-hang.ts': `export default (ctx: any) => (ctx.params.h ? { kind: 'exit', message: '${RUN_HANG}' } : undefined)\n` }
  const served = await serve(t, files, { onError })
  // Test hook (as above): running 10-hang.ts on a context holding the marker spins its worker.
  served.bp.policyWorkers.hangPolicyForTest(RUN_HANG)
  for (let k = 0; k < 2; k++) {
    const r = await get(served.port, `/boot?h=${RUN_HANG}-${k}&mac=52:54:00:00:03:${hex(k)}`, undefined, 15_000)
    t.match(r.body, /^#!ipxe\n/, `trigger ${k} hangs its worker and gets a script`)
    t.ok(r.ms <= ANSWERED_MS, `trigger ${k} answered in ${r.ms.toFixed(0)} ms`)
  }
  return served
}

t.test('hazard: a policy that hangs two workers is quarantined, and a flood of distinct requests then costs no worker', async (t) => {
  const { bp, port, logs } = await quarantineServe(t, 'next')
  const quarantine = logs.records().filter((r) => r.code === 'BPWRN008')
  t.equal(quarantine.length, 1, 'one loud log line: the policy is quarantined')
  t.match(quarantine[0], { policy: '10-hang.ts', kills: 2 })
  t.equal(logs.records().filter((r) => r.code === 'BPWRN004').length, 2, 'it cost two workers')
  const idle = await idleP99(port, others(1), 800)
  const probes = [startProbe(port, others(2)), startProbe(port, others(3))]
  const t0 = performance.now()
  const floods: number[] = []
  for (let k = 2; k < 40 || performance.now() - t0 < 800; k++) {
    const r = await get(port, `/boot?h=${RUN_HANG}-${k}&mac=52:54:00:00:04:${hex(k)}`, undefined, 15_000)
    t.match(r.body, /echo ok 52:54:00:00:04/, `trigger ${k} skips the quarantined policy (onError next)`)
    floods.push(r.ms)
  }
  const during = (await Promise.all(probes.map((p) => p.stop()))).flat()
  const bound = Math.max(2 * idle, FLOOR_MS)
  t.ok(during.length > 10, `other clients kept asking (${during.length} requests)`)
  t.ok(p99(during) <= bound, `other clients' p99 ${p99(during).toFixed(1)} ms ≤ ${bound.toFixed(1)} ms (idle p99 ${idle.toFixed(1)} ms)`)
  t.ok(p99(floods) <= bound, `the flood's own p99 ${p99(floods).toFixed(1)} ms ≤ ${bound.toFixed(1)} ms`)
  t.equal(logs.records().filter((r) => r.code === 'BPWRN004').length, 2, 'the flood killed no more workers')
  t.equal(bp.policyWorkers.size, 2, 'the pool keeps its size')
  const problems = await healthProblems(port)
  t.match(
    problems.find((p) => p.policy === '10-hang.ts'),
    { code: 'BP_ERR_POLICY_QUARANTINED' },
    '/healthz lists the quarantined policy',
  )
})

t.test('hazard: a quarantined policy fails every request (onError failsafe) until it is edited', async (t) => {
  const { bp, port, logs } = await quarantineServe(t, 'failsafe')
  const failed = await get(port, '/boot?mac=52:54:00:00:05:01')
  t.match(failed.body, /BP_ERR_POLICY_QUARANTINED/, 'a request that would not hang fails too: the whole revision is quarantined')
  // Not run at all (a wall-clock bound said the same and failed on a loaded CI host at 1,450 ms):
  // the answer cost no worker, and the pool is whole.
  t.equal(logs.records().filter((r) => r.code === 'BPWRN004').length, 2, 'the quarantined request killed no worker')
  t.equal(bp.policyWorkers.size, 2, 'the pool keeps its size')
  const dir = bp.policies.dir
  const { writeFileSync } = await import('node:fs')
  writeFileSync(`${dir}/10-hang.ts`, `export default (ctx: any) => (ctx.params.h ? { kind: 'exit', message: 'fixed' } : undefined)\n`)
  await bp.policies.load()
  t.match((await get(port, '/boot?h=9')).body, /echo fixed/, 'the edited policy (a new revision) runs')
  t.notOk(
    (await healthProblems(port)).some((p) => p.code === 'BP_ERR_POLICY_QUARANTINED'),
    '/healthz no longer lists it',
  )
})
