/**
 * A plugin whose `decide` (or `prepare`) hook returns a menu DAG — depth 3, fan-out 200, every item
 * pointing at one sub-menu object — through the real HTTP app on a real socket: the DAG is refused
 * at once, the attacker gets the default or the failsafe, and other clients' median /boot latency
 * stays within 2× idle (none waits 5 s) while attackers send it in a loop.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { build } from '../../../core/http/build-app.js'
import { captureLogs } from '../../helpers/log-capture.js'
import { tempPolicies } from '../../helpers/policy-dir.js'

const DAG = `function dag(depth, fan) {
  let d = { kind: 'exit', message: 'leaf' }
  for (let level = 0; level < depth; level++) {
    const next = d
    d = { kind: 'menu', items: Array.from({ length: fan }, (_, i) => ({ id: 'i' + i, text: 'item ' + i, action: next })) }
  }
  return d
}`

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

t.test('hazard: decision DAG from a plugin — refused at once over HTTP; other clients keep their latency', async (t) => {
  const dir = tempPolicies({ 'p.ts': `export default (ctx: any) => ctx.params.evil === 'decide' ? undefined : { kind: 'exit', message: ctx.params.evil ? 'attacked' : 'ok' }` })
  t.teardown(() => dir.remove())
  const file = join(dir.dir, 'dagger.mjs')
  writeFileSync(
    file,
    `${DAG}
export default () => ({ name: 'dagger', version: '1.0.0', bootpolicy: '^0.1.0', hooks: {
  decide: async (ctx) => ctx.params.evil === 'decide' ? dag(3, 200) : undefined,
  prepare: async (ctx) => ctx.params.evil === 'prepare' ? dag(3, 200) : undefined,
} })
`,
  )
  const logs = captureLogs('warn')
  const bp = await build(dir.config({ plugins: [{ name: 'dagger', path: file, options: {} }], default: { kind: 'exit', message: 'default decision' } }), { logger: logs.logger })
  t.teardown(() => bp.close())
  await bp.app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = bp.app.server.address() as { port: number }
  const base = `http://127.0.0.1:${port}`
  let n = 0
  const mac = (): string => `52:54:00:${[(n >> 16) & 255, (n >> 8) & 255, n++ & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}`

  const get = async (query: string): Promise<{ ms: number; status: number; body: string }> => {
    const t0 = performance.now()
    const res = await fetch(`${base}/boot?${query}`)
    const body = await res.text()
    return { ms: performance.now() - t0, status: res.status, body }
  }
  const normal = async (count: number): Promise<number[]> => {
    const times: number[] = []
    for (let i = 0; i < count; i++) {
      const r = await get(`mac=${mac()}`)
      if (r.status !== 200 || !r.body.includes('\necho ok\n')) t.fail(`a normal client got ${r.status}: ${r.body.slice(0, 200)}`)
      times.push(r.ms)
    }
    return times
  }

  // What an attacker gets.
  const viaDecide = await get(`mac=${mac()}&evil=decide`)
  t.equal(viaDecide.status, 200)
  t.match(viaDecide.body, /default decision/, 'a refused plugin decision falls through to the default')
  t.ok(viaDecide.ms < 1000, `answered in ${viaDecide.ms.toFixed(1)} ms`)
  t.ok(
    logs.records().some((r) => String(r.problems).includes('BP_ERR_DECISION_SHARED_OBJECT')),
    'the refusal is logged with its code',
  )
  const viaPrepare = await get(`mac=${mac()}&evil=prepare`)
  t.equal(viaPrepare.status, 200)
  t.match(viaPrepare.body, /bootpolicy: BP_ERR_DECISION_SHARED_OBJECT/, 'a DAG from prepare gets the failsafe, naming the code')
  t.ok(viaPrepare.ms < 1000, `answered in ${viaPrepare.ms.toFixed(1)} ms`)
  t.ok(viaDecide.body.length < 10_000 && viaPrepare.body.length < 10_000, 'nothing was expanded into the answers')

  await normal(50) // warm-up
  const idle = await normal(200)
  let stop = false
  let attacks = 0
  // Each attacker sends a DAG every 10 ms (~200 requests/s together): on the old code one of them
  // stalled the server for 26 s; now each costs about what a normal request costs.
  const attacker = async (kind: string): Promise<void> => {
    while (!stop) {
      const r = await get(`mac=${mac()}&evil=${kind}`)
      if (r.status !== 200) t.fail(`attacker got ${r.status}`)
      attacks++
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }
  const heap0 = process.memoryUsage().heapUsed
  const attackers = [attacker('decide'), attacker('prepare')]
  const during = await normal(200)
  stop = true
  await Promise.all(attackers)
  const grown = (process.memoryUsage().heapUsed - heap0) / 2 ** 20
  t.ok(attacks >= 50, `${attacks} DAG requests were answered meanwhile`)
  // Medians and the worst, not a p99: of 200 samples the p99 is the second worst, and a loaded CI
  // host's scheduler alone doubled it (99 ms under attack vs 45 ms idle). The old code's stall
  // (26 s per DAG) fails both bounds by far.
  const [idleMedian, hazardMedian] = [median(idle), median(during)]
  t.ok(hazardMedian <= Math.max(2 * idleMedian, 50), `normal /boot median ${hazardMedian.toFixed(1)} ms under attack vs ${idleMedian.toFixed(1)} ms idle (bound: 2× idle, floor 50 ms)`)
  t.ok(Math.max(...during) < 5000, `no normal client waited for a DAG's walk: worst ${Math.max(...during).toFixed(1)} ms (bound 5 s; 400 ms seen on a loaded host)`)
  t.ok(grown < 64, `heap grew ${grown.toFixed(1)} MB`)
})
