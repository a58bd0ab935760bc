/**
 * The machine timeline's cost on /boot, cold workload (each request another of 100,000 machines):
 * bootpolicy's default configuration against the same with `timeline.enabled: false`, wrk with 50
 * connections in interleaved rounds; the ratio is the median of the per-round ratios. The same
 * figure is part of boot-throughput; this runs only the two servers it needs.
 */
import { fileURLToPath } from 'node:url'
import { median, startQuietServer, stop, wrkBoot, type BenchResult } from './lib.js'

const server = fileURLToPath(new URL('./servers/boot-server.ts', import.meta.url))

export async function run(seconds = Number(process.env.BENCH_SECONDS ?? 5), rounds = Number(process.env.BENCH_ROUNDS ?? 3)): Promise<BenchResult> {
  const on = await startQuietServer(server, ['bootpolicy'])
  const off = await startQuietServer(server, ['bootpolicy-no-timeline'])
  try {
    for (const s of [on, off]) await wrkBoot(s.port, { connections: 50, seconds: 1, distinct: 100_000 })
    const rps = { on: [] as number[], off: [] as number[] }
    let errors = 0
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const)
      for (const which of order) {
        const res = await wrkBoot((which === 'on' ? on : off).port, { connections: 50, seconds, distinct: 100_000 })
        errors += res.errors
        rps[which].push(res.rps)
      }
    }
    return {
      name: 'machine timeline cost on /boot (cold)',
      figures: [
        { name: 'timeline off req/s', value: Math.round(median(rps.off)), unit: 'req/s' },
        { name: 'timeline on (default) req/s', value: Math.round(median(rps.on)), unit: 'req/s', ratio: median(rps.on.map((x, i) => x / rps.off[i]!)), baseline: 'timeline off', target: '≥ 0.9' },
        { name: 'errors or non-2xx', value: errors, unit: 'count' },
      ],
    }
  } finally {
    await stop(on.child)
    await stop(off.child)
  }
}
