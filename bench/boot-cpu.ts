/**
 * `node --no-node-snapshot --import tsx bench/boot-cpu.ts [info|warn] [machines]`: the main thread's
 * CPU time per /boot request (from /proc, so the policy workers' time is left out), in process through
 * fastify's inject (no sockets, no load generator competing for the cores), over distinct bench
 * machines. Not part of `npm run bench`: on a loaded machine it still moves by ±30%.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { validateConfig, PACKAGE_ROOT } from '../core/config/load-config.js'
import { build } from '../core/http/build-app.js'
import { bootPath, knownMachines, VARIANTS } from './lib/boot-clients.js'
import { threadCpuMs } from './lib/thread-cpu.js'
const dir = mkdtempSync(join(tmpdir(), 'mb-'))
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
const level = process.argv[2] ?? 'info'
const distinct = Number(process.argv[3] ?? 100000)
const config = validateConfig({ policies: { dir, watch: false }, log: { level }, http: { host: '127.0.0.1', port: 0 } }, PACKAGE_ROOT)
const bp = await build(config)
let n = 0
async function one() {
  const i = (n++ * 7919) % distinct
  const r = await bp.app.inject({ method: 'GET', url: bootPath(i) })
  if (r.statusCode !== 200) throw new Error(r.body)
}
async function runFor(count: number) {
  let left = count
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (left-- > 0) await one()
    }),
  )
}
await runFor(20000)
for (let r = 0; r < 3; r++) {
  const c0 = threadCpuMs()
  const t0 = performance.now()
  await runFor(30000)
  const c1 = threadCpuMs()
  const t1 = performance.now()
  process.stderr.write(`${level} distinct=${distinct}: main-thread CPU ${(((c1 - c0) * 1000) / 30000).toFixed(1)} µs/req, wall ${(((t1 - t0) * 1000) / 30000).toFixed(1)} µs/req\n`)
}
await bp.close()
