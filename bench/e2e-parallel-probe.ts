/**
 * One-off measurement for docs/guides/e2e-tests.md: seed 001's three boots one after another vs
 * all three at once on one site (wall time, and each boot's marker time). Needs root.
 *   node --no-node-snapshot --import tsx bench/e2e-parallel-probe.ts
 */
import { buildBootPayload } from '../test/helpers/boot-payload.js'
import { createTestNet } from '../test/helpers/e2e-net.js'
import { bootThroughMenu, startSeed001Site } from '../test/helpers/e2e-seed-sites.js'
import type { Firmware } from '../test/helpers/qemu.js'

const clients: ReadonlyArray<{ firmware: Firmware; mac: string }> = [
  { firmware: 'bios', mac: '52:54:00:e2:01:01' },
  { firmware: 'uefi', mac: '52:54:00:e2:01:02' },
  { firmware: 'uefi-pxe', mac: '52:54:00:e2:01:03' },
]
const payload = await buildBootPayload()
for (const mode of ['sequential', 'parallel'] as const) {
  const net = await createTestNet()
  const site = await startSeed001Site(net, payload)
  const boot = (c: (typeof clients)[number]) => bootThroughMenu({ net, ...c, menu: /Boot from the local disk/, key: 'r' }).then((b) => `${c.firmware} ${b.markerMs} ms`)
  const t0 = performance.now()
  const results: string[] = []
  if (mode === 'sequential') for (const c of clients) results.push(await boot(c))
  else results.push(...(await Promise.all(clients.map(boot))))
  process.stdout.write(`${mode}: ${Math.round(performance.now() - t0)} ms wall; ${results.join(', ')}\n`)
  await site.close()
  await net.close()
}
