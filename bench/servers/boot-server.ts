/**
 * A server for the /boot benchmarks, run as a child process so that the load generator and the
 * server do not share a thread. Every mode answers the seed-003 workload (a per-MAC switch: the
 * known MACs of bench/lib/boot-clients.ts get one of three boots, every other machine `exit`) with
 * the same bytes, `set bp-req <id>` included:
 * - `bare`: a fastify route with the switch in JavaScript (the baseline);
 * - `naive`: the same route calling the switch once per request in isolated-vm on the main thread
 *   (copied argument, reused context);
 * - `bootpolicy`: bootpolicy with its default configuration and one policy holding the switch;
 * - `bootpolicy-warn`: the same with `log.level: warn` (no decision log);
 * - `bootpolicy-no-timeline`: the default configuration with `timeline.enabled: false`;
 * - `bootpolicy-pg`: the default configuration with `state` from the JSON in BP_BENCH_STATE
 *   (PostgreSQL: the timeline and decision records also go to its tables, pg-event-store.ts).
 * Logs go where stdout goes (the bench points it at /dev/null); `{"port": N}` goes to fd 3.
 */
import { mkdtempSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import ivm from 'isolated-vm'
import { validateConfig, PACKAGE_ROOT } from '../../core/config/load-config.js'
import { build } from '../../core/http/build-app.js'
import { knownMachines, VARIANTS } from '../lib/boot-clients.js'

const mode = process.argv[2] ?? 'bootpolicy'

/** The policy: seed 003's switch over the known MACs (1% of the bench's machines). */
function writePolicy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bp-bench-policy-'))
  const table = Object.fromEntries(knownMachines().map(([mac, v]) => [mac, v]))
  writeFileSync(
    join(dir, '10-per-mac.ts'),
    [
      "import { chain, sanboot, type BootContext, type Decision } from 'bootpolicy/policy'",
      `const variants: Decision[] = [chain('/files/lpxelinux.0'), sanboot(${JSON.stringify(VARIANTS.sanboot)}, { initiatorIqn: ${JSON.stringify(VARIANTS.iqn)} }), chain('http://boot.example.org/menu.ipxe')]`,
      `const machines: Record<string, number> = ${JSON.stringify(table)}`,
      'export default function perMac(ctx: BootContext): Decision | undefined {',
      '  const v = ctx.mac ? machines[ctx.mac] : undefined',
      '  return v === undefined ? undefined : variants[v]',
      '}',
      '',
    ].join('\n'),
  )
  return dir
}

async function bootpolicy(level: 'info' | 'warn', timeline = true, state?: unknown): Promise<{ port: number }> {
  // The default configuration, except what a benchmark from one address needs.
  const config = validateConfig(
    {
      policies: { dir: writePolicy(), watch: false },
      log: { level },
      http: { host: '127.0.0.1', port: 0, maxConnectionsPerAddress: 1000 },
      // The timeline (on by default) writes under stateDir: a private one, never the repository's.
      stateDir: mkdtempSync(join(tmpdir(), 'bp-bench-state-')),
      timeline: { enabled: timeline },
      ...(state !== undefined && { state }),
    },
    PACKAGE_ROOT,
  )
  const bp = await build(config)
  await bp.app.listen({ host: '127.0.0.1', port: 0 })
  return { port: (bp.app.server.address() as { port: number }).port }
}

/** The bytes bootpolicy answers: rendered by bootpolicy itself, once, with a placeholder id. */
async function referenceScripts(): Promise<{ byMac: Map<string, string>; exit: string }> {
  const config = validateConfig({ policies: { dir: writePolicy(), watch: false }, log: { level: 'silent' } }, PACKAGE_ROOT)
  const bp = await build(config)
  const render = async (mac: string) => (await bp.engine.handle({ query: `mac=${mac}`, remoteAddress: '127.0.0.1', requestId: 'IDIDIDIDID' })).script
  const variants: string[] = []
  const byMac = new Map<string, string>()
  for (const [mac, v] of knownMachines()) {
    variants[v] ??= await render(mac.replaceAll(':', '-'))
    byMac.set(mac.replaceAll(':', '-'), variants[v]!)
  }
  const exit = await render('02-00-00-00-00-01')
  await bp.close()
  return { byMac, exit }
}

let idCounter = 0
const idPrefix = 'beef'
const nextId = () => idPrefix + (idCounter = (idCounter + 1) % 0x1000000).toString(16).padStart(6, '0')

async function bare(naive: boolean): Promise<number> {
  const { byMac, exit } = await referenceScripts()
  const app = Fastify({ logger: false })
  let pick = (mac: string): string => byMac.get(mac) ?? exit
  if (naive) {
    const isolate = new ivm.Isolate({ memoryLimit: 32 })
    const context = isolate.createContextSync()
    context.global.setSync('table', new ivm.ExternalCopy(Object.fromEntries(byMac)).copyInto())
    context.global.setSync('fallback', exit)
    const fn = context.evalSync('(mac) => table[mac] ?? fallback', { reference: true }) as ivm.Reference<(mac: string) => string>
    pick = (mac) => fn.applySync(undefined, [mac], { timeout: 50, result: { copy: true } }) as string
  }
  app.get('/boot', async (req, reply) => {
    const mac = String((req.query as Record<string, unknown>).mac ?? '')
    return reply.type('text/plain; charset=utf-8').header('Cache-Control', 'no-store').send(pick(mac).replace('IDIDIDIDID', nextId()))
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  return (app.server.address() as { port: number }).port
}

const state = mode === 'bootpolicy-pg' ? (JSON.parse(process.env.BP_BENCH_STATE ?? 'null') as unknown) : undefined
if (mode === 'bootpolicy-pg' && !state) throw new Error('bootpolicy-pg needs BP_BENCH_STATE')
const port = mode === 'bare' || mode === 'naive' ? await bare(mode === 'naive') : (await bootpolicy(mode === 'bootpolicy-warn' ? 'warn' : 'info', mode !== 'bootpolicy-no-timeline', state)).port
writeSync(3, `${JSON.stringify({ port })}\n`)
// A normal exit on SIGTERM, so that `--cpu-prof` writes its profile (bench/profile-boot.ts).
process.on('SIGTERM', () => process.exit(0))
