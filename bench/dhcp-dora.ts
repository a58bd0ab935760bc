/**
 * DHCP DORA (DISCOVER/OFFER/REQUEST/ACK) transactions per second: bootpolicy's full mode vs
 * dnsmasq, same run, same scripted client (bench/dora-client.ts), same namespaces and pool.
 * Both persist leases before acknowledging: bootpolicy fsyncs one JSON snapshot per group of ACKs,
 * dnsmasq rewrites its lease file per change. A second dnsmasq run without a lease file
 * (--leasefile-ro) shows what durability costs. 16 transactions in flight, 1,000 client MACs.
 * Needs root, iproute2 and dnsmasq (dnsmasq-base).
 *   node --no-node-snapshot --import tsx bench/dhcp-dora.ts
 */
import { fileURLToPath } from 'node:url'
import { createLan, type Lan } from '../test/helpers/netns.js'
import { nodeTs, REPO_ROOT, startDhcpServer } from '../test/helpers/dhcp-server.js'
import { startDnsmasqDhcp } from '../test/helpers/dnsmasq-dhcp.js'
import type { BenchResult } from './lib.js'

interface ClientReport {
  completed: number
  seconds: number
  perSecond: number
  timeouts: number
}

const POOL = { start: '10.55.1.0', end: '10.55.8.255' }
const MASK = '255.255.0.0'

async function drive(lan: Lan, seconds: number): Promise<ClientReport> {
  const job = { seconds, warmup: 0.5, window: 16, macs: 1000, sourceAddress: '10.55.0.9' }
  const { stdout } = await lan.exec('cli', process.execPath, nodeTs('bench/dora-client.ts'), { input: JSON.stringify(job), cwd: REPO_ROOT, timeoutMs: (seconds + 30) * 1000 })
  return JSON.parse(stdout) as ClientReport
}

export async function run(seconds = Number(process.env.BENCH_SECONDS ?? 2)): Promise<BenchResult> {
  const lan = await createLan(undefined, [
    { name: 'srv', address: '10.55.0.1/16' },
    { name: 'cli', address: '10.55.0.9/16' },
  ])
  try {
    const bp = await startDhcpServer(lan, 'srv', { mode: 'full', serverAddress: '10.55.0.1', pool: POOL, subnetMask: MASK, leaseSeconds: 3600 }, { logLevel: 'warn' })
    let ours: ClientReport
    try {
      ours = await drive(lan, seconds)
    } finally {
      await bp.stop()
    }

    const dnsmasq = await startDnsmasqDhcp(lan, 'srv', { rangeStart: POOL.start, rangeEnd: POOL.end, netmask: MASK, log: false })
    let theirs: ClientReport
    try {
      theirs = await drive(lan, seconds)
    } finally {
      await dnsmasq.stop()
    }

    // Second baseline: dnsmasq without a lease file, i.e. without durability; shows the cost of fsync.
    const volatile = await startDnsmasqDhcp(lan, 'srv', { rangeStart: POOL.start, rangeEnd: POOL.end, netmask: MASK, log: false, extra: ['--leasefile-ro'] })
    let fast: ClientReport
    try {
      fast = await drive(lan, seconds)
    } finally {
      await volatile.stop()
    }

    return {
      name: 'DHCP DORA',
      figures: [
        { name: 'dnsmasq DORA/s', value: Math.round(theirs.perSecond), unit: 'DORA/s' },
        { name: 'bootpolicy DORA/s (full mode, fsync per commit)', value: Math.round(ours.perSecond), unit: 'DORA/s', ratio: ours.perSecond / theirs.perSecond, baseline: 'dnsmasq', target: '≥ 0.5' },
        { name: 'dnsmasq --leasefile-ro DORA/s (no lease persistence)', value: Math.round(fast.perSecond), unit: 'DORA/s' },
        { name: 'bootpolicy vs dnsmasq without persistence', value: Math.round(ours.perSecond), unit: 'DORA/s', ratio: ours.perSecond / fast.perSecond, baseline: 'dnsmasq --leasefile-ro' },
        { name: 'transactions timed out (all runs)', value: ours.timeouts + theirs.timeouts + fast.timeouts, unit: 'count' },
      ],
    }
  } finally {
    await lan.close()
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await run()
  for (const f of result.figures) {
    console.log(`${f.name}: ${f.value} ${f.unit}${f.ratio !== undefined ? `  (${f.ratio.toFixed(2)}× ${f.baseline}${f.target ? `, target ${f.target}` : ''})` : ''}`)
  }
}
