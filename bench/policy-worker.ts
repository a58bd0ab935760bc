/**
 * What moving policies off the main thread costs. Both figures compare against the old path,
 * reproduced here in the same run: the policy called on the main thread with isolated-vm's
 * `applySync` (context copied in, result copied out) and the decision validated.
 * - main-thread cost per decision under load: many distinct contexts (every one a decision-cache
 *   miss), 64 in flight, the examples' menu policy (one decision text for all clients, which the
 *   runner's parse-and-validate memo serves) and the same menu titled per client (a distinct text
 *   each time); the main thread's busy time (event-loop utilization) divided by the decisions
 *   made. Median of 9 rounds of 4,000 decisions.
 * - one isolated request: a single decision at a time, the runner's latency through a worker vs
 *   the old in-thread call. Median of 3,000.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import ivm from 'isolated-vm'
import { buildContext } from '../core/context/build-context.js'
import { PACKAGE_ROOT } from '../core/config/load-config.js'
import { validateDecision } from '../core/decision/validate-decision.js'
import { PolicyRunner } from '../core/engine/policy-runner.js'
import { GLOBAL_NAME, compilePolicy } from '../core/policy/compile-policy.js'
import { PolicySet } from '../core/policy/policy-set.js'
import { WorkerPool } from '../core/policy/worker-pool.js'
import type { BenchResult, Figure } from './lib.js'

const limits = { timeoutMs: 1000, memoryMb: 32 }

function contextFor(n: number) {
  const mac = `52:54:00:${((n >> 16) & 0xff).toString(16).padStart(2, '0')}:${((n >> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`
  return buildContext({
    query: new Map([
      ['mac', mac],
      ['buildarch', 'x86_64'],
      ['platform', 'efi'],
      ['serial', `SN-${n}`],
    ]),
    remoteAddress: '127.0.0.1',
  }).context
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const round = (n: number) => Math.round(n * 10) / 10

/** CPU time the main thread has run, in ns (Linux: /proc/<pid>/task/<pid>/schedstat). */
const mainCpuNs = () => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0])

interface Measured {
  readonly oldMain: number
  readonly newMain: number
  readonly newMainCpu: number
  readonly oldOne: number
  readonly newOne: number
}

/** Both paths over one policy file (alone in a temporary policies directory). */
async function measure(source: string): Promise<Measured> {
  const dir = mkdtempSync(join(tmpdir(), 'bp-bench-'))
  writeFileSync(join(dir, 'p.ts'), source)
  try {
    const compiled = await compilePolicy(join(dir, 'p.ts'), dir)

    // The old path: the policy's isolate on this thread.
    const isolate = new ivm.Isolate({ memoryLimit: limits.memoryMb })
    const context = isolate.createContextSync()
    isolate.compileScriptSync(compiled.code).runSync(context)
    const fn = context.evalSync(`(() => { const m = ${GLOBAL_NAME}; return m.default ?? m })()`, { reference: true }) as ivm.Reference<(c: unknown) => unknown>
    const oldCall = (ctx: object) => {
      const result = fn.applySync(undefined, [new ivm.ExternalCopy(ctx).copyInto({ release: true })], { timeout: limits.timeoutMs, result: { copy: true } })
      if (!validateDecision(result).ok) throw new Error('bad decision')
    }

    // The new path: the runner (outcome cache off) over a pool of 2 workers.
    const pool = new WorkerPool({ size: 2, limits, onError: 'failsafe' })
    const policies = new PolicySet(dir, limits, undefined, {}, pool)
    await policies.load()
    const runner = new PolicyRunner(policies, pool, new Map(), { onError: 'failsafe', cacheSize: 0, cacheTtlMs: 0 })

    let contexts = Array.from({ length: 4000 }, (_, i) => contextFor(i))
    for (let i = 0; i < 2000; i++) {
      oldCall(contexts[i % contexts.length]!)
      await runner.run(contexts[i % contexts.length]!)
    }

    // Main-thread cost under load.
    const oldCost: number[] = []
    const newCost: number[] = []
    const newCpu: number[] = []
    for (let r = 0; r < 9; r++) {
      contexts = Array.from({ length: 4000 }, (_, i) => contextFor(i + (r + 1) * 4000))
      const c0 = mainCpuNs()
      for (const c of contexts) oldCall(c)
      oldCost.push((mainCpuNs() - c0) / 1000 / contexts.length) // all of it is main-thread work
      const elu = performance.eventLoopUtilization()
      const cpu0 = mainCpuNs()
      let next = 0
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (next < contexts.length) {
            const outcome = (await runner.run(contexts[next++]!)).outcome
            if (!outcome.decision) throw new Error('no decision')
          }
        }),
      )
      newCpu.push((mainCpuNs() - cpu0) / 1000 / contexts.length)
      newCost.push((performance.eventLoopUtilization(elu).active * 1000) / contexts.length)
    }

    // One request at a time.
    const oldLatency: number[] = []
    const newLatency: number[] = []
    for (let i = 0; i < 3000; i++) {
      const c = contexts[i % contexts.length]!
      let t0 = performance.now()
      oldCall(c)
      oldLatency.push((performance.now() - t0) * 1000)
      t0 = performance.now()
      await runner.run(c)
      newLatency.push((performance.now() - t0) * 1000)
    }
    await pool.close()
    isolate.dispose()
    return { oldMain: median(oldCost), newMain: median(newCost), newMainCpu: median(newCpu), oldOne: median(oldLatency), newOne: median(newLatency) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export async function run(): Promise<BenchResult> {
  const menu = readFileSync(join(PACKAGE_ROOT, 'policies', '50-menu.ts'), 'utf8')
  const same = await measure(menu)
  // The same menu with the client's MAC in its title: every decision is a distinct text.
  const perClient = await measure(menu.replace("title: 'iPXE Boot Menu'", "title: 'iPXE Boot Menu ' + _ctx.mac"))
  const figures: Figure[] = []
  for (const [label, m] of [
    ['one menu for all', same],
    ['a distinct menu per client', perClient],
  ] as const) {
    figures.push(
      { name: `${label}: old, policy on the main thread, CPU time per decision`, value: round(m.oldMain), unit: 'µs' },
      {
        name: `${label}: main-thread CPU time per decision under load (64 in flight, distinct contexts)`,
        value: round(m.newMainCpu),
        unit: 'µs',
        ratio: m.newMainCpu / m.oldMain,
        baseline: 'old in-thread call',
        target: '≤ 25 µs',
      },
      {
        name: `${label}: main-thread busy wall time per decision under load (event-loop utilization)`,
        value: round(m.newMain),
        unit: 'µs',
        ratio: m.newMain / m.oldMain,
        baseline: 'old in-thread call',
      },
      { name: `${label}: old, one decision in-thread`, value: round(m.oldOne), unit: 'µs' },
      { name: `${label}: one decision through a worker`, value: round(m.newOne), unit: 'µs', ratio: m.newOne / m.oldOne, baseline: 'old in-thread call' },
      { name: `${label}: added latency of one isolated request`, value: round(m.newOne - m.oldOne), unit: 'µs', target: '≤ 150 µs' },
    )
  }
  return { name: 'policy workers', figures }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await run(), null, 2))
}
