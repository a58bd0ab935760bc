/**
 * /boot throughput when the policy's decision needs a shared-state lookup per request (the
 * machine's intent, by MAC, on the PostgreSQL backend) versus the same server with a pure policy,
 * same run, same load (100 connections, 1000 distinct machines: a cold workload, no repeated
 * request to memoize), real HTTP against a child-process server. One database on a throwaway
 * PostgreSQL 15 cluster (test/helpers/postgres.ts) serves both runs, each on a fresh database.
 */
import { fileURLToPath } from 'node:url'
import { createDatabase, useDurablePostgres } from '../test/helpers/postgres.js'
import { type BenchResult, load, macPaths, startServer, stop } from './lib.js'

const server = fileURLToPath(new URL('./servers/state-lookup-server.ts', import.meta.url))
const MACHINES = 1000

export async function run(seconds = Number(process.env.BENCH_SECONDS ?? 5)): Promise<BenchResult> {
  const cleanups: (() => unknown)[] = []
  const paths = macPaths(MACHINES)
  // fsync on, as a production database (test/helpers/postgres.ts).
  useDurablePostgres()
  const measure = async (mode: string, armed: number) => {
    const db = await createDatabase({ teardown: (fn) => cleanups.push(fn) })
    const s = await startServer(server, [mode, db.url, db.passwordFile, String(armed)])
    try {
      await load(s.port, paths, { connections: 20, seconds: 1 })
      return await load(s.port, paths, { connections: 100, seconds })
    } finally {
      await stop(s.child)
    }
  }
  try {
    const without = await measure('without', 0)
    const lookup = await measure('lookup', MACHINES)
    const pure2 = await measure('without', 0)
    const base = Math.max(without.rps, pure2.rps)
    return {
      name: '/boot with a shared state lookup per request',
      figures: [
        { name: 'req/s, pure policy, postgres backend (best of two runs around the lookup run)', value: Math.round(base), unit: 'req/s' },
        { name: 'req/s, policy reads ctx.intent, 250 of 1000 machines armed', value: Math.round(lookup.rps), unit: 'req/s', ratio: lookup.rps / base, baseline: 'pure policy', target: '≥ 0.8' },
        { name: 'p99 with the lookup', value: lookup.p99, unit: 'ms', ratio: lookup.p99 / Math.max(Math.min(without.p99, pure2.p99), 1), baseline: 'p99 pure policy' },
        { name: 'load average (1 min) at the end', value: Number((await import('node:os')).loadavg()[0]!.toFixed(2)), unit: '' },
        { name: 'errors or non-2xx', value: without.errors + lookup.errors + pure2.errors, unit: 'count' },
      ],
    }
  } finally {
    for (const c of cleanups.reverse()) await c()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await run(), null, 2))
}
