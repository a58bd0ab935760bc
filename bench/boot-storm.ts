/**
 * Boot storm (issue 12): N machines powered on within one second on one LAN, each booting as real
 * hardware does (bench/storm/storm-client.ts): a quarter are PXE firmware (DHCP, lock-step TFTP of
 * iPXE, DHCP again as iPXE), the rest iPXE NIC ROMs; all then fetch /boot.ipxe, /boot, an 8 MiB
 * kernel and a 32 MiB initrd over one keep-alive connection. bootpolicy (default configuration,
 * full DHCP + TFTP + /files) against dnsmasq + nginx, same generator, same N, same run.
 * Target: 0 lost, time to the last completion ≤ 1.1× the reference's.
 * Needs root, iproute2, dnsmasq, nginx, Debian's ipxe, a built dist/.
 *   node --no-node-snapshot --import tsx bench/boot-storm.ts       (BENCH_STORM_CLIENTS=1000)
 */
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { BenchResult, Figure } from './lib.js'
import { runStorms, type StormSummary } from './storm/run-storm.js'

const MiB = 1024 * 1024
const PHASES = ['dhcp-firmware', 'tftp', 'dhcp-ipxe', 'script', 'kernel', 'initrd'] as const

function figuresOf(s: StormSummary, ref?: StormSummary): Figure[] {
  const label = s.stack === 'bootpolicy' ? 'bootpolicy' : 'reference (dnsmasq + nginx)'
  const vs = (value: number, base: number | undefined, target?: string): Partial<Figure> =>
    ref && base !== undefined && base > 0 ? { ratio: value / base, baseline: 'reference', ...(target ? { target } : {}) } : {}
  const out: Figure[] = [
    { name: `${label}: completed`, value: s.completed, unit: `of ${s.clients}` },
    { name: `${label}: lost`, value: s.lost, unit: 'clients', ...(ref ? { target: '0' } : {}) },
    { name: `${label}: time to the last completion`, value: s.lastCompletionMs, unit: 'ms', ...vs(s.lastCompletionMs, ref?.lastCompletionMs, '≤ 1.1') },
    { name: `${label}: DHCP answer p50`, value: s.dhcpAnswer.p50, unit: 'ms', ...vs(s.dhcpAnswer.p50, ref?.dhcpAnswer.p50) },
    { name: `${label}: DHCP answer p99`, value: s.dhcpAnswer.p99, unit: 'ms', ...vs(s.dhcpAnswer.p99, ref?.dhcpAnswer.p99) },
    { name: `${label}: DHCP retransmissions`, value: s.dhcpRetransmits, unit: 'count' },
    { name: `${label}: payload bytes/s`, value: Math.round((s.bytesPerSecond / MiB) * 10) / 10, unit: 'MiB/s', ...vs(s.bytesPerSecond, ref?.bytesPerSecond) },
  ]
  for (const [phase, count] of Object.entries(s.lostByPhase)) out.push({ name: `${label}: lost in phase ${phase}`, value: count, unit: 'clients' })
  out.push({ name: `${label}: UDP datagrams dropped, server's receive buffers full`, value: s.udpDrops.server, unit: 'count' })
  if (s.decisions) {
    out.push({ name: `${label}: decisions logged`, value: s.decisions, unit: 'count' })
    out.push({ name: `${label}: server-side decision wall time p50 / p99`, value: s.server.decisionWall.p50, unit: `ms / ${s.server.decisionWall.p99} ms` })
    out.push({ name: `${label}: server-side TFTP transfer p50 / p99`, value: s.server.tftp.p50, unit: `ms / ${s.server.tftp.p99} ms` })
  }
  for (const p of PHASES) {
    const st = s.phases[p]
    if (!st) continue
    out.push({ name: `${label}: ${p} p50 / p99`, value: st.p50, unit: `ms / ${st.p99} ms`, ...vs(st.p99, ref?.phases[p]?.p99) })
  }
  return out
}

export async function run(clients = Number(process.env.BENCH_STORM_CLIENTS ?? 1000)): Promise<BenchResult> {
  const before = loadavg()[0]!
  const [ours, ref] = await runStorms({ clients, firmwareShare: 0.25, kernelBytes: 8 * MiB, initrdBytes: 32 * MiB })
  const after = loadavg()[0]!
  for (const s of [ours!, ref!]) {
    if (s.failures.length) process.stderr.write(`boot-storm: ${s.stack} failures (first ${s.failures.length}): ${s.failures.join('; ')}\n`)
  }
  return {
    name: 'boot storm',
    figures: [
      { name: 'clients (N), powered on within 1 s; a quarter PXE firmware', value: clients, unit: 'clients' },
      ...figuresOf(ref!),
      ...figuresOf(ours!, ref!),
      { name: 'load average (1 min) before / after', value: Math.round(before * 10) / 10, unit: `/ ${Math.round(after * 10) / 10}` },
    ],
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await run()
  for (const f of result.figures) {
    console.log(`${f.name}: ${f.value} ${f.unit}${f.ratio !== undefined ? `  (${f.ratio.toFixed(2)}× ${f.baseline}${f.target ? `, target ${f.target}` : ''})` : ''}`)
  }
}
