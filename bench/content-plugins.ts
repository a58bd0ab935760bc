/**
 * /boot throughput with the content plugins (smartos, sysresccd, pxelinux-cfg) enabled versus
 * without them, same example policies, same load (100 connections, 1000 distinct clients), real
 * HTTP against a child-process server. A third run lets a policy send 3 of 4 clients to the
 * plugins' decisions (SmartOS menu, SystemRescue, pxelinux with a stored config).
 *
 * Any plugin with a request hook (smartos has enrich, pxelinux-cfg has prepare) turns off the
 * engine's whole-response memo, so the plugins are also compared with a plugin whose onRequest
 * does nothing: that ratio is the plugins' own cost.
 */
import { fileURLToPath } from 'node:url'
import { macPaths, measureServer, type BenchResult } from './lib.js'

const server = fileURLToPath(new URL('./servers/plugins-server.ts', import.meta.url))

export async function run(seconds = Number(process.env.BENCH_SECONDS ?? 5)): Promise<BenchResult> {
  const paths = macPaths(1000)
  const measure = (mode: string) => measureServer(server, mode, paths, seconds)
  const without = await measure('without')
  const noop = await measure('noop-hook')
  const withPlugins = await measure('with')
  const content = await measure('with-content')
  return {
    name: '/boot with the content plugins',
    figures: [
      { name: 'req/s without plugins (example policies)', value: Math.round(without.rps), unit: 'req/s' },
      {
        name: 'req/s with smartos, sysresccd, pxelinux-cfg enabled',
        value: Math.round(withPlugins.rps),
        unit: 'req/s',
        ratio: withPlugins.rps / without.rps,
        baseline: 'without plugins',
        target: '≥ 0.9',
      },
      { name: 'req/s with a no-op onRequest plugin', value: Math.round(noop.rps), unit: 'req/s', ratio: noop.rps / without.rps, baseline: 'without plugins' },
      { name: 'req/s with the plugins vs the no-op hook', value: Math.round(withPlugins.rps), unit: 'req/s', ratio: withPlugins.rps / noop.rps, baseline: 'no-op onRequest plugin', target: '≥ 0.9' },
      { name: 'p99 with the plugins enabled', value: withPlugins.p99, unit: 'ms', ratio: withPlugins.p99 / Math.max(without.p99, 1), baseline: 'p99 without plugins' },
      { name: 'req/s with 3 of 4 clients on plugin decisions', value: Math.round(content.rps), unit: 'req/s', ratio: content.rps / without.rps, baseline: 'without plugins' },
      { name: 'errors or non-2xx', value: without.errors + noop.errors + withPlugins.errors + content.errors, unit: 'count' },
    ],
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await run(), null, 2))
}
