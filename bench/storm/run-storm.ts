/**
 * One boot storm against each stack, same LAN, same generator, same N, in one run: used by
 * bench/boot-storm.ts (N = 1,000, real file sizes) and test/e2e/boot-storm.test.ts (N = 100).
 * The generator runs as a child process in the client namespace; between the stacks the leased
 * addresses are flushed from its interface, so the second storm starts from a clean client.
 */
import { nodeTs, REPO_ROOT } from '../../test/helpers/dhcp-server.js'
import { createLan, type Lan } from '../../test/helpers/netns.js'
import { makeStormFiles, NET, type ServerFacts, type Stack, type StormFiles, startBootpolicyStack, startReferenceStack } from './stacks.js'
import type { ClientRecord, StormJob, StormReport } from './storm-client.js'

export interface StormOptions {
  readonly clients: number
  readonly firmwareShare: number
  readonly kernelBytes: number
  readonly initrdBytes: number
  readonly powerOnMs?: number
  /** Which stacks, in order (default both, bootpolicy first). */
  readonly stacks?: ReadonlyArray<'bootpolicy' | 'reference'>
  /** Config sections merged over bootpolicy's (default none: the default configuration). */
  readonly bootpolicyConfig?: Readonly<Record<string, Record<string, unknown>>>
}

export interface PhaseStats {
  readonly p50: number
  readonly p99: number
  readonly max: number
}

export interface StormSummary {
  readonly stack: string
  readonly clients: number
  readonly completed: number
  readonly lost: number
  /** The first few failures, `n: phase: error`. */
  readonly failures: string[]
  /** Lost clients by the phase they failed in (`bytes`: finished with a wrong byte count). */
  readonly lostByPhase: Readonly<Record<string, number>>
  /** Completions that got a wrong byte count (counted as lost too). */
  readonly wrongBytes: number
  readonly lastCompletionMs: number
  readonly dhcpAnswer: PhaseStats
  readonly dhcpRetransmits: number
  /** HTTP + TFTP payload bytes over the time to the last completion. */
  readonly bytesPerSecond: number
  readonly phases: Readonly<Record<string, PhaseStats>>
  /** Decision-log lines the server wrote during the storm. */
  readonly decisions: number
  /** Server-side: decision wall time and TFTP transfer time, from bootpolicy's log (empty for the reference). */
  readonly server: { readonly decisionWall: PhaseStats; readonly tftp: PhaseStats }
  /** UDP datagrams the kernel dropped for a full receive buffer during the storm, per namespace. */
  readonly udpDrops: { readonly server: number; readonly generator: number }
  readonly report: StormReport
}

function stats(values: number[]): PhaseStats {
  if (!values.length) return { p50: 0, p99: 0, max: 0 }
  const s = [...values].sort((a, b) => a - b)
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))]!
  return { p50: Math.round(at(0.5)), p99: Math.round(at(0.99)), max: Math.round(s.at(-1)!) }
}

export function summarize(
  stack: string,
  report: StormReport,
  files: StormFiles,
  facts: ServerFacts = { decisions: 0, decisionWallMs: [], tftpMs: [] },
  udpDrops = { server: 0, generator: 0 },
): StormSummary {
  const ok = (c: ClientRecord): boolean =>
    c.doneAt !== undefined &&
    c.kernelBytes === files.kernelBytes &&
    c.initrdBytes === files.initrdBytes &&
    (!c.firmware || (c.tftpBytes !== undefined && Object.values(files.tftpSizes).includes(c.tftpBytes)))
  const done = report.clients.filter(ok)
  const wrongBytes = report.clients.filter((c) => c.doneAt !== undefined && !ok(c)).length
  const phaseNames = [...new Set(report.clients.flatMap((c) => Object.keys(c.ms)))]
  const bytes = done.reduce((sum, c) => sum + (c.kernelBytes ?? 0) + (c.initrdBytes ?? 0) + (c.tftpBytes ?? 0), 0)
  const last = Math.max(0, ...done.map((c) => c.doneAt!))
  return {
    stack,
    clients: report.clients.length,
    completed: done.length,
    lost: report.clients.length - done.length,
    failures: report.clients
      .filter((c) => !ok(c))
      .slice(0, 5)
      .map((c) => `${c.n}: ${c.phase}: ${c.error ?? `wrong bytes (kernel ${c.kernelBytes}, initrd ${c.initrdBytes}, tftp ${c.tftpBytes})`}`),
    lostByPhase: report.clients
      .filter((c) => !ok(c))
      .reduce<Record<string, number>>((m, c) => {
        const p = c.doneAt === undefined ? c.phase : 'bytes'
        m[p] = (m[p] ?? 0) + 1
        return m
      }, {}),
    wrongBytes,
    lastCompletionMs: Math.round(last),
    dhcpAnswer: stats(report.clients.flatMap((c) => c.dhcpAnswers)),
    dhcpRetransmits: report.clients.reduce((s, c) => s + c.dhcpRetransmits, 0),
    bytesPerSecond: last > 0 ? (bytes / last) * 1000 : 0,
    phases: Object.fromEntries(phaseNames.map((p) => [p, stats(report.clients.flatMap((c) => (c.ms[p] !== undefined ? [c.ms[p]] : [])))])),
    decisions: facts.decisions,
    server: { decisionWall: stats(facts.decisionWallMs), tftp: stats(facts.tftpMs) },
    udpDrops,
    report,
  }
}

/** RcvbufErrors of the namespace's UDP counters (/proc/net/snmp is per network namespace). */
async function udpRcvbufErrors(lan: Lan, host: string): Promise<number> {
  const lines = (await lan.exec(host, 'cat', ['/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Udp:'))
  const names = lines[0]?.split(/\s+/) ?? []
  const values = lines[1]?.split(/\s+/) ?? []
  return Number(values[names.indexOf('RcvbufErrors')] ?? 0)
}

async function storm(lan: Lan, job: StormJob, timeoutMs: number): Promise<StormReport> {
  const { stdout } = await lan.exec('cli', process.execPath, [...nodeTs('bench/storm/storm-client.ts')], { input: JSON.stringify(job), cwd: REPO_ROOT, timeoutMs })
  return JSON.parse(stdout) as StormReport
}

/** Runs the storm against each stack; the LAN and files are removed afterwards. */
export async function runStorms(options: StormOptions): Promise<StormSummary[]> {
  const files = makeStormFiles(options.kernelBytes, options.initrdBytes)
  const lan = await createLan(undefined, [
    { name: 'srv', address: `${NET.server}/${NET.prefixLength}` },
    { name: 'cli', address: `${NET.generator}/${NET.prefixLength}` },
  ])
  const out: StormSummary[] = []
  try {
    let tag = 0
    for (const which of options.stacks ?? (['bootpolicy', 'reference'] as const)) {
      // The leased addresses of the previous storm go; the generator's own stays.
      await lan.exec('cli', 'ip', ['addr', 'flush', 'dev', 'eth0'])
      await lan.exec('cli', 'ip', ['addr', 'add', `${NET.generator}/${NET.prefixLength}`, 'dev', 'eth0'])
      const stack: Stack = which === 'bootpolicy' ? await startBootpolicyStack(lan, files, options.bootpolicyConfig) : await startReferenceStack(lan, files)
      try {
        const job: StormJob = {
          clients: options.clients,
          firmwareShare: options.firmwareShare,
          powerOnMs: options.powerOnMs ?? 1000,
          sourceAddress: NET.generator,
          ifname: 'eth0',
          prefixLength: NET.prefixLength,
          macTag: 0x50 + tag++,
        }
        // Generous: iPXE's DHCP schedule alone is 15 s; the downloads share one 2-core machine.
        const drops0 = { server: await udpRcvbufErrors(lan, 'srv'), generator: await udpRcvbufErrors(lan, 'cli') }
        const report = await storm(lan, job, 600_000)
        const udpDrops = { server: (await udpRcvbufErrors(lan, 'srv')) - drops0.server, generator: (await udpRcvbufErrors(lan, 'cli')) - drops0.generator }
        out.push(summarize(stack.name, report, files, stack.facts(), udpDrops))
      } catch (err) {
        throw new Error(`storm against ${stack.name} failed: ${(err as Error).message}\n${stack.tail()}`, { cause: err })
      } finally {
        await stack.stop()
      }
    }
    return out
  } finally {
    await lan.close()
    // BENCH_STORM_KEEP=1: keep the files and the servers' logs for a look afterwards.
    if (process.env.BENCH_STORM_KEEP) process.stderr.write(`boot storm: files and logs kept in ${files.dir}\n`)
    else files.remove()
  }
}
