/**
 * /boot on real traffic, side by side in one run (issue 12): a bare fastify route returning the same
 * bytes, the same route calling isolated-vm once per request ("naive"), bootpolicy with its default
 * configuration (decision log at info), and bootpolicy at log level warn. One policy with seed 003's
 * semantics (per-MAC switch, 1% of the machines known); the query is the one iPXE sends for
 * bootpolicy's own /boot.ipxe; and bootpolicy with the machine timeline off, for its cost.
 * Hot: one request repeated. Cold: each request another of 100,000
 * machines. wrk, 50 connections, the servers measured in interleaved rounds; each ratio is the median
 * of the per-round ratios against bare in the same round.
 * Memory: a fresh default server gets exactly 100,000 distinct machines, then 900,000 more
 * (bench/lib/raw-load.ts, an exact-count generator, since wrk stops on time), RSS after each.
 */
import { fileURLToPath } from 'node:url'
import { median, rawBoot, rssKb, startQuietServer, stop, wrkBoot, type BenchResult, type Figure, type WrkResult } from './lib.js'

const server = fileURLToPath(new URL('./servers/boot-server.ts', import.meta.url))
const MODES = ['bare', 'naive', 'bootpolicy', 'bootpolicy-warn', 'bootpolicy-no-timeline'] as const
type Mode = (typeof MODES)[number]
const WORKLOADS = { hot: 1, cold: 100_000 } as const
const CONNECTIONS = 50

export async function run(seconds = Number(process.env.BENCH_SECONDS ?? 5), rounds = Number(process.env.BENCH_ROUNDS ?? 3)): Promise<BenchResult> {
  const figures: Figure[] = []
  const servers = new Map<Mode, Awaited<ReturnType<typeof startQuietServer>>>()
  let errors = 0
  try {
    for (const mode of MODES) servers.set(mode, await startQuietServer(server, [mode]))
    // Warm-up: JIT, isolates, workers; the cold caches start as they would on a running server.
    for (const mode of MODES) {
      for (const distinct of Object.values(WORKLOADS)) await wrkBoot(servers.get(mode)!.port, { connections: CONNECTIONS, seconds: 1, distinct })
    }
    for (const [workload, distinct] of Object.entries(WORKLOADS)) {
      const results = new Map<Mode, WrkResult[]>(MODES.map((m) => [m, []]))
      for (let r = 0; r < rounds; r++) {
        // Rotate the order so that no mode always runs right after another's load.
        const order = MODES.map((_, i) => MODES[(i + r) % MODES.length]!)
        for (const mode of order) {
          const res = await wrkBoot(servers.get(mode)!.port, { connections: CONNECTIONS, seconds, distinct })
          errors += res.errors
          results.get(mode)!.push(res)
        }
      }
      const bare = results.get('bare')!
      const ratio = (mode: Mode, f: (x: WrkResult) => number) => median(results.get(mode)!.map((x, i) => f(x) / Math.max(f(bare[i]!), 0.001)))
      figures.push({ name: `${workload}: bare fastify req/s`, value: Math.round(median(bare.map((x) => x.rps))), unit: 'req/s' })
      figures.push({ name: `${workload}: bare fastify p99`, value: round(median(bare.map((x) => x.p99))), unit: 'ms' })
      for (const mode of ['naive', 'bootpolicy', 'bootpolicy-warn'] as const) {
        const label = { naive: 'naive fastify + isolated-vm', bootpolicy: 'bootpolicy default config', 'bootpolicy-warn': 'bootpolicy log level warn' }[mode]
        const target = mode === 'bootpolicy' ? (workload === 'hot' ? '≥ 0.8' : '≥ 0.6') : undefined
        figures.push({
          name: `${workload}: ${label} req/s`,
          value: Math.round(median(results.get(mode)!.map((x) => x.rps))),
          unit: 'req/s',
          ratio: ratio(mode, (x) => x.rps),
          baseline: 'bare (median of per-round ratios)',
          ...(target && { target }),
        })
        figures.push({
          name: `${workload}: ${label} p99`,
          value: round(median(results.get(mode)!.map((x) => x.p99))),
          unit: 'ms',
          ratio: ratio(mode, (x) => x.p99),
          baseline: 'bare p99',
          ...(mode === 'bootpolicy' && { target: '≤ 3' }),
        })
      }
      const warn = results.get('bootpolicy-warn')!
      figures.push({
        name: `${workload}: decision log cost (default level vs warn)`,
        value: Math.round(median(results.get('bootpolicy')!.map((x) => x.rps))),
        unit: 'req/s',
        ratio: median(results.get('bootpolicy')!.map((x, i) => x.rps / warn[i]!.rps)),
        baseline: 'log level warn',
        target: '≥ 0.85',
      })
      const untimed = results.get('bootpolicy-no-timeline')!
      figures.push({
        name: `${workload}: timeline cost (default vs timeline.enabled false)`,
        value: Math.round(median(untimed.map((x) => x.rps))),
        unit: 'req/s',
        ratio: median(results.get('bootpolicy')!.map((x, i) => x.rps / untimed[i]!.rps)),
        baseline: 'timeline off',
        target: '≥ 0.9',
      })
    }
  } finally {
    for (const s of servers.values()) await stop(s.child)
  }

  // Memory: bounded by configuration, not by the number of machines seen (BENCH_SKIP_MEMORY=1: not measured, while iterating).
  if (process.env.BENCH_SKIP_MEMORY) return { name: '/boot on real traffic', figures: [...figures, { name: 'errors or non-2xx', value: errors, unit: 'count' }] }
  const s = await startQuietServer(server, ['bootpolicy'])
  let rss100: number
  let rss1m: number
  try {
    errors += (await rawBoot(s.port, 100_000, CONNECTIONS)).errors
    rss100 = rssKb(s.child.pid!)
    errors += (await rawBoot(s.port, 900_000, CONNECTIONS, 100_000)).errors
    rss1m = rssKb(s.child.pid!)
  } finally {
    await stop(s.child)
  }
  figures.push({ name: 'RSS after 100,000 distinct machines', value: Math.round(rss100 / 1024), unit: 'MiB' })
  figures.push({ name: 'RSS after 1,000,000 distinct machines', value: Math.round(rss1m / 1024), unit: 'MiB', ratio: rss1m / rss100, baseline: 'RSS after 100,000', target: '≤ 1.1' })
  figures.push({ name: 'errors or non-2xx', value: errors, unit: 'count' })
  return { name: '/boot on real traffic', figures }
}

const round = (x: number) => Math.round(x * 100) / 100

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const f of (await run()).figures) console.log(`${f.name}: ${f.value} ${f.unit}${f.ratio !== undefined ? ` (${f.ratio.toFixed(2)}× ${f.baseline})` : ''}`)
}
