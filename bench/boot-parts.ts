/**
 * `node --import tsx bench/boot-parts.ts [OLD_TREE]`: the cold /boot path's main-thread parts one by
 * one (context build, its JSON, the decision line; and the decision line of a memoized response's
 * hit), µs per request over distinct machines, the minimum of interleaved rounds (robust to a loaded machine). With OLD_TREE (another checkout of
 * this repository) its code runs side by side in the same process, for before/after figures.
 */
import { Writable } from 'node:stream'
import { bootPath } from './lib/boot-clients.js'

const trees = [new URL('..', import.meta.url).pathname, ...process.argv.slice(2)]
const queries = Array.from({ length: 20_000 }, (_, n) => bootPath(n * 7).slice(6))

interface Parts {
  name: string
  build: (q: string) => object
  stringify: (ctx: object) => string
  log: (ctx: object) => void
  /** The decision line of a memoized response's hit: the same record but for reqId and wallUs. */
  logHit: (ctx: object, n: number) => void
}

async function load(tree: string): Promise<Parts> {
  const { buildContext } = await import(`${tree}/core/context/build-context.ts`)
  const { parseIpxeQuery } = await import(`${tree}/core/context/parse-ipxe-query.ts`)
  const { logDecision } = await import(`${tree}/core/log/decision-line.ts`)
  const { deepFreeze } = await import(`${tree}/core/context/deep-freeze.ts`)
  const hitParts = deepFreeze({ policies: [{ policy: '10-per-mac.ts', outcome: 'decided', us: 3, rev: 'abcdef012345' }], plugins: [] })
  const { createLogger } = await import(`${tree}/core/log/logger.ts`)
  const sink = new Writable({ write: (_c, _e, cb) => cb() })
  const logger = createLogger('info', sink)
  let frozenJson: ((v: object) => string) | undefined
  try {
    frozenJson = (await import(`${tree}/core/context/frozen-json.ts`)).frozenJson
  } catch {
    // older trees: the runner stringified
  }
  return {
    name: tree,
    build: (q) => buildContext({ query: parseIpxeQuery(q), remoteAddress: '127.0.0.1' }).context,
    stringify: (ctx) => (frozenJson ?? JSON.stringify)(ctx),
    log: (ctx) =>
      logDecision(logger, 'info', {
        reqId: 'beef000001',
        context: ctx,
        policies: [{ policy: '10-per-mac.ts', outcome: 'passed', us: 3, rev: 'abcdef012345' }],
        plugins: [],
        decidedBy: 'default',
        kind: 'exit',
        summary: 'exit',
        cached: false,
        cpuUs: 12,
        wallUs: 180,
      }),
    logHit: (ctx, n) =>
      logDecision(logger, 'info', {
        reqId: 'beef000001',
        context: ctx,
        policies: hitParts.policies,
        plugins: hitParts.plugins,
        decidedBy: 'policy:10-per-mac.ts',
        kind: 'chain',
        summary: 'chain /files/lpxelinux.0',
        cached: true,
        cpuUs: 0,
        wallUs: n,
      }),
  }
}

const all = await Promise.all(trees.map(load))
const best = new Map<string, number>()
const keep = (key: string, us: number) => best.set(key, Math.min(best.get(key) ?? Infinity, us))
for (let round = 0; round < 7; round++) {
  for (const p of all) {
    let t0 = performance.now()
    const ctxs = queries.map(p.build)
    keep(`${p.name} build`, ((performance.now() - t0) * 1000) / queries.length)
    t0 = performance.now()
    for (const c of ctxs) p.stringify(c)
    keep(`${p.name} stringify (runner key)`, ((performance.now() - t0) * 1000) / queries.length)
    t0 = performance.now()
    for (const c of ctxs) p.log(c)
    keep(`${p.name} decision line`, ((performance.now() - t0) * 1000) / queries.length)
    t0 = performance.now()
    for (let i = 0; i < queries.length; i++) p.logHit(ctxs[0]!, i)
    keep(`${p.name} decision line (hit)`, ((performance.now() - t0) * 1000) / queries.length)
  }
}
for (const [k, us] of best) console.log(`${us.toFixed(2).padStart(7)} µs  ${k}`)
