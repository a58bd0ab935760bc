/**
 * /boot throughput and latency: bootpolicy with the example policies vs a bare fastify route
 * that switches on the MAC (same run, same load: 100 connections, 1000 distinct clients).
 * Also: RSS growth over 100k → 200k requests, and throughput when one policy loops on 1% of clients.
 */
import { fileURLToPath } from 'node:url'
import { load, macPaths, measureServer, rssKb, startServer, stop, type BenchResult } from './lib.js'

const server = fileURLToPath(new URL('./servers/boot-server.ts', import.meta.url))

export async function run(seconds = Number(process.env.BENCH_SECONDS ?? 5)): Promise<BenchResult> {
  const paths = macPaths(1000)
  const measure = (mode: string) => measureServer(server, mode, paths, seconds)
  const bare = await measure('bare')
  const bp = await measure('bootpolicy')
  const loop = await measure('bootpolicy-loop')

  // Memory: 100k requests, RSS; 100k more, RSS again.
  const s = await startServer(server, ['bootpolicy'])
  let rss100: number
  let rss200: number
  try {
    await load(s.port, paths, { connections: 100, amount: 100_000 })
    rss100 = rssKb(s.child.pid!)
    await load(s.port, paths, { connections: 100, amount: 100_000 })
    rss200 = rssKb(s.child.pid!)
  } finally {
    await stop(s.child)
  }

  return {
    name: '/boot over HTTP',
    figures: [
      { name: 'bare fastify route req/s', value: Math.round(bare.rps), unit: 'req/s' },
      { name: 'bootpolicy req/s (example policies)', value: Math.round(bp.rps), unit: 'req/s', ratio: bp.rps / bare.rps, baseline: 'bare route', target: '≥ 0.7' },
      { name: 'bootpolicy p50', value: bp.p50, unit: 'ms', ratio: bp.p50 / Math.max(bare.p50, 0.001), baseline: 'bare p50' },
      { name: 'bootpolicy p99', value: bp.p99, unit: 'ms', ratio: bp.p99 / Math.max(bare.p99, 1), baseline: 'bare p99', target: '≤ 2' },
      { name: 'req/s with a policy looping on 1% of clients', value: Math.round(loop.rps), unit: 'req/s', ratio: loop.rps / bp.rps, baseline: 'bootpolicy without the loop', target: '≥ 0.9' },
      { name: 'RSS after 100k requests', value: Math.round(rss100 / 1024), unit: 'MiB' },
      { name: 'RSS after 200k requests', value: Math.round(rss200 / 1024), unit: 'MiB', ratio: rss200 / rss100, baseline: 'RSS after 100k', target: '≤ 1.05' },
      { name: 'errors or non-2xx', value: bare.errors + bp.errors + loop.errors, unit: 'count' },
    ],
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await run(), null, 2))
}
