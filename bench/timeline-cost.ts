/**
 * The machine timeline's cost on /boot, cold workload (each request another of 100,000 machines):
 * bootpolicy's default configuration against the same with `timeline.enabled: false`, and the
 * default configuration with `state.backend: postgres` (a throwaway PostgreSQL 15 cluster of
 * test/helpers/postgres.ts over its unix socket: every event and decision record also goes to its
 * tables in batches, pg-event-store.ts) against the default with files. wrk with 50 connections in
 * interleaved rounds; each ratio is the median of the per-round ratios. After the rounds, the
 * postgres server's /metrics say how many rows it dropped (its queue full) and still held.
 */
import { fileURLToPath } from 'node:url'
import { createDatabase, useDurablePostgres } from '../test/helpers/postgres.js'
import { median, startQuietServer, stop, wrkBoot, type BenchResult } from './lib.js'

const server = fileURLToPath(new URL('./servers/boot-server.ts', import.meta.url))

export async function run(seconds = Number(process.env.BENCH_SECONDS ?? 5), rounds = Number(process.env.BENCH_ROUNDS ?? 3)): Promise<BenchResult> {
  const teardowns: Array<() => unknown> = []
  // fsync on, as a production database (test/helpers/postgres.ts).
  useDurablePostgres()
  const db = await createDatabase({ teardown: (fn) => teardowns.push(fn) })
  const state = { backend: 'postgres', url: `postgres://bp_test@localhost:${db.cluster.port}/${db.name}?host=${encodeURIComponent(db.cluster.socketDir)}`, passwordFile: db.passwordFile }
  const on = await startQuietServer(server, ['bootpolicy'])
  const off = await startQuietServer(server, ['bootpolicy-no-timeline'])
  const pg = await startQuietServer(server, ['bootpolicy-pg'], [], { ...process.env, BP_BENCH_STATE: JSON.stringify(state) })
  const servers = { on, off, pg }
  try {
    for (const s of [on, off, pg]) await wrkBoot(s.port, { connections: 50, seconds: 1, distinct: 100_000 })
    const rps = { on: [] as number[], off: [] as number[], pg: [] as number[] }
    let errors = 0
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? (['on', 'off', 'pg'] as const) : (['pg', 'off', 'on'] as const)
      for (const which of order) {
        const res = await wrkBoot(servers[which].port, { connections: 50, seconds, distinct: 100_000 })
        errors += res.errors
        rps[which].push(res.rps)
      }
    }
    // Give the last batches time to be written, then read what the postgres server dropped.
    await new Promise((r) => setTimeout(r, 2000))
    const metrics = await (await fetch(`http://127.0.0.1:${pg.port}/metrics`)).text()
    const figure = (re: RegExp): number => Number(re.exec(metrics)?.[1] ?? Number.NaN)
    const load = (await import('node:os')).loadavg()[0]!
    return {
      name: 'machine timeline cost on /boot (cold)',
      figures: [
        { name: 'timeline off req/s', value: Math.round(median(rps.off)), unit: 'req/s' },
        { name: 'timeline on (default) req/s', value: Math.round(median(rps.on)), unit: 'req/s', ratio: median(rps.on.map((x, i) => x / rps.off[i]!)), baseline: 'timeline off', target: '≥ 0.9' },
        { name: 'timeline on, state.backend postgres req/s', value: Math.round(median(rps.pg)), unit: 'req/s', ratio: median(rps.pg.map((x, i) => x / rps.on[i]!)), baseline: 'timeline on (files)' },
        { name: 'postgres: events dropped (queue full)', value: figure(/bootpolicy_timeline_store_dropped_total\{what="event"\} (\d+)/), unit: 'count' },
        { name: 'postgres: decision records dropped (queue full)', value: figure(/bootpolicy_timeline_store_dropped_total\{what="decision"\} (\d+)/), unit: 'count' },
        { name: 'postgres: events still queued 2 s after the load', value: figure(/bootpolicy_timeline_store_queued\{what="event"\} (\d+)/), unit: 'count' },
        { name: 'load average (1 min) at the end', value: Math.round(load * 100) / 100, unit: '' },
        { name: 'errors or non-2xx', value: errors, unit: 'count' },
      ],
    }
  } finally {
    await stop(on.child)
    await stop(off.child)
    await stop(pg.child)
    for (const fn of teardowns) await fn()
  }
}
