/**
 * DHCP DORA (DISCOVER/OFFER/REQUEST/ACK) transactions per second: bootpolicy's full mode vs
 * dnsmasq, same run, same scripted client (bench/dora-client.ts), same namespaces and pool.
 * Both persist leases before acknowledging: bootpolicy appends each group of ACKs to its lease
 * journal with one fdatasync (group commit), dnsmasq rewrites its lease file per change. A third
 * run, dnsmasq without a lease file (--leasefile-ro), is the target bootpolicy is measured against
 * while still persisting. 16 transactions in flight, 1,000 client MACs; BENCH_ROUNDS interleaved
 * rounds of BENCH_SECONDS each, medians, with the load average (the machine is shared). A fourth run
 * is bootpolicy with its leases in PostgreSQL (state.backend postgres, a throwaway cluster of
 * test/helpers/postgres.ts over its unix socket, fsync on as in production): what a replica pays
 * against the lease file. A fifth is bootpolicy with the lease file and the machine timeline
 * recording every packet (as `serve` does by default; the test server records none): what the
 * timeline costs DORA/s. The lease file and PostgreSQL are measured again with 64 transactions in
 * flight, as in a boot storm. The 1,000 MACs make almost every DORA a known client's; a boot storm
 * is new machines, so the lease file, PostgreSQL (a fresh database per run) and dnsmasq
 * --leasefile-ro are measured again with a new MAC for every DORA, from a pool of 61,439 addresses.
 * A PostgreSQL replica answers the DISCOVER of a client it bound within the last minute from memory
 * (postgres-lease-backend.ts), which the 1,000 MACs always are; the last rows are known machines
 * that each ask once, leased by a first pass and asked by a fresh server every round.
 * Needs root, iproute2 and dnsmasq (dnsmasq-base).
 *   node --no-node-snapshot --import tsx bench/dhcp-dora.ts
 */
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createLan, type Lan } from '../test/helpers/netns.js'
import { nodeTs, REPO_ROOT, startDhcpServer } from '../test/helpers/dhcp-server.js'
import { startDnsmasqDhcp } from '../test/helpers/dnsmasq-dhcp.js'
import { createDatabase, type PgDatabase, useDurablePostgres } from '../test/helpers/postgres.js'
import type { BenchResult } from './lib.js'

interface ClientReport {
  completed: number
  seconds: number
  perSecond: number
  timeouts: number
}

const POOL = { start: '10.55.1.0', end: '10.55.8.255' }
/** For the new-machine runs: each gives out up to ~45,000 addresses (11k DORA/s for 3.5 s). */
const NEW_POOL = { start: '10.55.16.0', end: '10.55.255.254' }
/** macOf's range (bench/dora-client.ts): every DORA of a run is a new machine. */
const NEW_MACHINES = 1 << 24
/**
 * Known machines asking once each: leased by a first pass, then every round a fresh server (a
 * PostgreSQL replica remembers none of them) takes DORAs from MAC 0 on; a round of up to this
 * many DORAs asks no machine twice.
 */
const ONCE_MACHINES = 30_000
const MASK = '255.255.0.0'

/** Transactions in flight: 16 by default; STORM_WINDOW for the storm-concurrency rows. */
const WINDOW = 16
const STORM_WINDOW = 64

/** Seconds of DORAs before the client starts counting. */
const WARMUP = 0.5

async function drive(lan: Lan, seconds: number, window = WINDOW, macs = 1000): Promise<ClientReport> {
  const job = { seconds, warmup: WARMUP, window, macs, sourceAddress: '10.55.0.9' }
  const { stdout } = await lan.exec('cli', process.execPath, nodeTs('bench/dora-client.ts'), { input: JSON.stringify(job), cwd: REPO_ROOT, timeoutMs: (seconds + 30) * 1000 })
  return JSON.parse(stdout) as ClientReport
}

/** DORAs of a run, the warm-up's included: how many machines it asked. */
const dorasOf = (x: ClientReport): number => Math.round(x.perSecond * (x.seconds + WARMUP))

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

export async function run(seconds = Number(process.env.BENCH_SECONDS ?? 2), rounds = Number(process.env.BENCH_ROUNDS ?? 3)): Promise<BenchResult> {
  const lan = await createLan(undefined, [
    { name: 'srv', address: '10.55.0.1/16' },
    { name: 'cli', address: '10.55.0.9/16' },
  ])
  const loadBefore = loadavg()[0]!
  const ours: ClientReport[] = []
  const theirs: ClientReport[] = []
  const fast: ClientReport[] = []
  const groups: number[] = []
  const shared: ClientReport[] = []
  const recorded: ClientReport[] = []
  const stormFile: ClientReport[] = []
  const stormShared: ClientReport[] = []
  const timelineMachines: number[] = []
  const newFile: ClientReport[] = []
  const newShared: ClientReport[] = []
  const newFast: ClientReport[] = []
  const onceFile: ClientReport[] = []
  const onceShared: ClientReport[] = []
  const teardowns: Array<() => unknown> = []
  // fsync on, as the lease file's journal fsyncs: the same durability on both sides.
  useDurablePostgres()
  const database = () => createDatabase({ teardown: (fn) => teardowns.push(fn) })
  const stateOf = (d: PgDatabase) => ({
    backend: 'postgres',
    url: `postgres://bp_test@localhost:${d.cluster.port}/${d.name}?host=${encodeURIComponent(d.cluster.socketDir)}`,
    passwordFile: d.passwordFile,
  })
  const state = stateOf(await database())
  const onceDir = await mkdtemp(join(tmpdir(), 'bp-dora-once-'))
  const onceState = stateOf(await database())
  /** A fresh server on one backend's leases of the known-once machines, driven for `secs`. */
  const once = async (options: { stateDir: string } | { state: Record<string, unknown> }, secs: number): Promise<ClientReport> => {
    const bp = await startDhcpServer(lan, 'srv', { mode: 'full', serverAddress: '10.55.0.1', pool: NEW_POOL, subnetMask: MASK, leaseSeconds: 3600 }, { logLevel: 'warn', ...options })
    try {
      return await drive(lan, secs, WINDOW, ONCE_MACHINES)
    } finally {
      await bp.stop()
    }
  }
  try {
    // The first pass leases ONCE_MACHINES machines on each backend (new machines: at least 2,000 DORA/s on either).
    for (const options of [{ stateDir: onceDir }, { state: onceState }]) {
      const asked = dorasOf(await once(options, Math.ceil(ONCE_MACHINES / 2_000)))
      if (asked < ONCE_MACHINES) throw new Error(`the first pass leased about ${asked} of ${ONCE_MACHINES} machines`)
    }
    const runners: Array<() => Promise<void>> = [
      async () => void onceFile.push(await once({ stateDir: onceDir }, seconds)),
      async () => void onceShared.push(await once({ state: onceState }, seconds)),
      async () => {
        const bp = await startDhcpServer(lan, 'srv', { mode: 'full', serverAddress: '10.55.0.1', pool: POOL, subnetMask: MASK, leaseSeconds: 3600 }, { logLevel: 'warn' })
        try {
          ours.push(await drive(lan, seconds))
          // The handle has metrics() since the group-commit change; the same file also benches older trees.
          const m = 'metrics' in bp ? await bp.metrics() : new Map<string, number>()
          if (m.size > 0) groups.push(m.get('bootpolicy_dhcp_lease_changes_committed_total')! / m.get('bootpolicy_dhcp_lease_commits_total')!)
        } finally {
          await bp.stop()
        }
      },
      async () => {
        const bp = await startDhcpServer(lan, 'srv', { mode: 'full', serverAddress: '10.55.0.1', pool: POOL, subnetMask: MASK, leaseSeconds: 3600 }, { logLevel: 'warn', state })
        try {
          shared.push(await drive(lan, seconds))
        } finally {
          await bp.stop()
        }
      },
      // A storm keeps many more transactions in flight: both backends' batches grow with them (one
      // fsync, one transaction per batch), and the ratio at that concurrency is its own figure.
      async () => {
        const bp = await startDhcpServer(lan, 'srv', { mode: 'full', serverAddress: '10.55.0.1', pool: POOL, subnetMask: MASK, leaseSeconds: 3600 }, { logLevel: 'warn' })
        try {
          stormFile.push(await drive(lan, seconds, STORM_WINDOW))
        } finally {
          await bp.stop()
        }
      },
      async () => {
        const bp = await startDhcpServer(lan, 'srv', { mode: 'full', serverAddress: '10.55.0.1', pool: POOL, subnetMask: MASK, leaseSeconds: 3600 }, { logLevel: 'warn', state })
        try {
          stormShared.push(await drive(lan, seconds, STORM_WINDOW))
        } finally {
          await bp.stop()
        }
      },
      async () => {
        const bp = await startDhcpServer(lan, 'srv', { mode: 'full', serverAddress: '10.55.0.1', pool: POOL, subnetMask: MASK, leaseSeconds: 3600 }, { logLevel: 'warn', timeline: true })
        try {
          recorded.push(await drive(lan, seconds))
        } finally {
          await bp.stop()
        }
        // The timeline was really recording: its document (flushed on stop) holds the clients.
        const doc = JSON.parse(readFileSync(join(bp.stateDir, 'timeline.json'), 'utf8')) as { machines?: unknown[] }
        timelineMachines.push(doc.machines?.length ?? 0)
      },
      async () => {
        const dnsmasq = await startDnsmasqDhcp(lan, 'srv', { rangeStart: POOL.start, rangeEnd: POOL.end, netmask: MASK, log: false })
        try {
          theirs.push(await drive(lan, seconds))
        } finally {
          await dnsmasq.stop()
        }
      },
      // dnsmasq without a lease file, i.e. without durability: what fsync costs, and the target.
      async () => {
        const volatile = await startDnsmasqDhcp(lan, 'srv', { rangeStart: POOL.start, rangeEnd: POOL.end, netmask: MASK, log: false, extra: ['--leasefile-ro'] })
        try {
          fast.push(await drive(lan, seconds))
        } finally {
          await volatile.stop()
        }
      },
      async () => {
        const bp = await startDhcpServer(lan, 'srv', { mode: 'full', serverAddress: '10.55.0.1', pool: NEW_POOL, subnetMask: MASK, leaseSeconds: 3600 }, { logLevel: 'warn' })
        try {
          newFile.push(await drive(lan, seconds, WINDOW, NEW_MACHINES))
        } finally {
          await bp.stop()
        }
      },
      async () => {
        // A database of its own: the rounds before left their machines' leases in the shared one.
        const fresh = stateOf(await database())
        const bp = await startDhcpServer(lan, 'srv', { mode: 'full', serverAddress: '10.55.0.1', pool: NEW_POOL, subnetMask: MASK, leaseSeconds: 3600 }, { logLevel: 'warn', state: fresh })
        try {
          newShared.push(await drive(lan, seconds, WINDOW, NEW_MACHINES))
        } finally {
          await bp.stop()
        }
      },
      async () => {
        // dnsmasq keeps at most 1,000 leases unless told (--dhcp-lease-max): as many as the pool.
        const volatile = await startDnsmasqDhcp(lan, 'srv', { rangeStart: NEW_POOL.start, rangeEnd: NEW_POOL.end, netmask: MASK, log: false, extra: ['--leasefile-ro', '--dhcp-lease-max=65536'] })
        try {
          newFast.push(await drive(lan, seconds, WINDOW, NEW_MACHINES))
        } finally {
          await volatile.stop()
        }
      },
    ]
    // Interleaved rounds, the order rotating each round: the machine's load drifts, so each system
    // gets slots early and late; medians are reported.
    for (let r = 0; r < rounds; r++) for (let i = 0; i < runners.length; i++) await runners[(i + r) % runners.length]!()
  } finally {
    await lan.close()
    for (const fn of teardowns) await fn()
    await rm(onceDir, { recursive: true, force: true })
  }
  const rate = (xs: ClientReport[]): number => median(xs.map((x) => x.perSecond))
  const [o, d, f, p, tl, sf, sp] = [rate(ours), rate(theirs), rate(fast), rate(shared), rate(recorded), rate(stormFile), rate(stormShared)]
  const [nf, ns, nd] = [rate(newFile), rate(newShared), rate(newFast)]
  const [of, os] = [rate(onceFile), rate(onceShared)]
  // DORAs of a round beyond ONCE_MACHINES came from a machine that had asked already.
  const repeats = Math.max(...onceShared.map((x) => dorasOf(x) - ONCE_MACHINES), 0)
  return {
    name: 'DHCP DORA',
    figures: [
      { name: 'dnsmasq DORA/s', value: Math.round(d), unit: 'DORA/s' },
      { name: 'bootpolicy DORA/s (full mode, leases journaled, group commit)', value: Math.round(o), unit: 'DORA/s', ratio: o / d, baseline: 'dnsmasq', target: '≥ 0.5' },
      { name: 'dnsmasq --leasefile-ro DORA/s (no lease persistence)', value: Math.round(f), unit: 'DORA/s' },
      { name: 'bootpolicy (persisting) vs dnsmasq without persistence', value: Math.round(o), unit: 'DORA/s', ratio: o / f, baseline: 'dnsmasq --leasefile-ro', target: '≥ 0.8' },
      { name: 'bootpolicy DORA/s, leases in PostgreSQL (replica mode)', value: Math.round(p), unit: 'DORA/s', ratio: p / o, baseline: 'bootpolicy with the lease file', target: '≥ 0.5' },
      { name: `bootpolicy DORA/s, lease file, ${STORM_WINDOW} transactions in flight`, value: Math.round(sf), unit: 'DORA/s' },
      {
        name: `bootpolicy DORA/s, leases in PostgreSQL, ${STORM_WINDOW} transactions in flight`,
        value: Math.round(sp),
        unit: 'DORA/s',
        ratio: sp / sf,
        baseline: `the lease file at ${STORM_WINDOW} in flight`,
        target: '≥ 0.5',
      },
      {
        name: 'bootpolicy DORA/s with the machine timeline recording (as serve does)',
        value: Math.round(tl),
        unit: 'DORA/s',
        ratio: tl / o,
        baseline: 'timeline off (the test server)',
        target: '≥ 0.9',
      },
      {
        name: 'new machines (a new MAC every DORA): bootpolicy DORA/s, lease file',
        value: Math.round(nf),
        unit: 'DORA/s',
        ratio: nf / nd,
        baseline: 'dnsmasq --leasefile-ro, new machines',
        target: '≥ 0.8',
      },
      { name: 'new machines: dnsmasq --leasefile-ro DORA/s', value: Math.round(nd), unit: 'DORA/s' },
      { name: 'new machines: bootpolicy DORA/s, leases in PostgreSQL', value: Math.round(ns), unit: 'DORA/s', ratio: ns / nf, baseline: 'the lease file, new machines', target: '≥ 0.5' },
      {
        name: `known machines each asking once (${ONCE_MACHINES.toLocaleString('en-US')} leased before, a fresh server per round): bootpolicy DORA/s, lease file`,
        value: Math.round(of),
        unit: 'DORA/s',
      },
      {
        name: 'known machines each asking once: bootpolicy DORA/s, leases in PostgreSQL (no recent lease remembered)',
        value: Math.round(os),
        unit: 'DORA/s',
        ratio: os / of,
        baseline: 'the lease file, known machines once',
        target: '≥ 0.5',
      },
      { name: 'known machines each asking once, PostgreSQL: DORAs of a machine that had asked in that round (most of any round)', value: repeats, unit: 'DORAs' },
      { name: 'machines in that timeline (min of rounds)', value: Math.min(...timelineMachines), unit: 'machines' },
      { name: 'bootpolicy ACKs per lease commit (median of rounds)', value: groups.length ? Math.round(median(groups) * 10) / 10 : 0, unit: 'ACKs' },
      {
        name: 'transactions timed out (all runs)',
        value: [...ours, ...theirs, ...fast, ...shared, ...recorded, ...stormFile, ...stormShared, ...newFile, ...newShared, ...newFast, ...onceFile, ...onceShared].reduce(
          (n, x) => n + x.timeouts,
          0,
        ),
        unit: 'count',
      },
      { name: `rounds (interleaved, ${seconds} s each; medians; ${WINDOW} transactions in flight unless stated)`, value: rounds, unit: 'rounds' },
      { name: 'load average (1 min) before / after', value: Math.round(loadBefore * 10) / 10, unit: `/ ${Math.round(loadavg()[0]! * 10) / 10}` },
    ],
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await run()
  for (const f of result.figures) {
    console.log(`${f.name}: ${f.value} ${f.unit}${f.ratio !== undefined ? `  (${f.ratio.toFixed(2)}× ${f.baseline}${f.target ? `, target ${f.target}` : ''})` : ''}`)
  }
}
