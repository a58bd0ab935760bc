/**
 * TFTP download throughput: bootpolicy's TFTP service vs tftpd-hpa, same run, same client (atftp),
 * same files (1 MiB and 16 MiB), both on 127.0.0.1. Runs alternate between the servers so drift
 * hits both alike; each figure is the median of its repetitions.
 *
 * Two client settings, because the protocol matters more than the server here:
 *  - lock-step: `blksize 1428` + `tsize`, one ACK per block — what most PXE ROMs do;
 *  - windowed: the same plus `windowsize 4` (RFC 7440). bootpolicy grants it; tftpd-hpa 5.2 does
 *    not implement windowsize and silently stays lock-step, so this row compares the two servers
 *    as a client that asks for windows would experience them.
 * Then the storm rows: 200 concurrent lock-step downloads of a 70 KiB file (undionly.kpxe's size)
 * and of a 1 MiB file (ipxe.efi's), from one Node client process (bench/lib/tftp-lockstep-client.ts,
 * the same generator for both servers): aggregate MiB/s and transfers lost (timed out after 5
 * silent seconds), median of interleaved rounds; the storm rows also run bootpolicy with
 * `tftp.workers: 0` (every transfer on the main thread), to show what the worker pool brings.
 * Bounded to ~60 s. Needs atftp and tftpd-hpa (in.tftpd).
 *   node --no-node-snapshot --import tsx bench/tftp-throughput.ts
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import dgram from 'node:dgram'
import { once } from 'node:events'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import { resolveTftpConfig } from '../core/tftp/config-schema.js'
import { createTftpService } from '../core/tftp/tftp-service.js'
import { requireCommand } from '../test/helpers/e2e-require.js'
import type { BenchResult, Figure } from './lib.js'

const FILES = [
  { name: '1mib', bytes: 1024 * 1024, reps: 11 },
  { name: '16mib', bytes: 16 * 1024 * 1024, reps: 5 },
] as const
const MODES = [
  { name: 'lock-step', options: ['blksize 1428', 'tsize'] },
  { name: 'windowsize 4 asked', options: ['blksize 1428', 'tsize', 'windowsize 4'] },
] as const

function download(atftp: string, port: number, file: string, out: string, options: readonly string[]): Promise<number> {
  const args = ['--get', '-r', file, '-l', out, ...options.flatMap((o) => ['--option', o]), '127.0.0.1', String(port)]
  const started = process.hrtime.bigint()
  return new Promise((resolve, reject) => {
    execFile(atftp, args, { timeout: 30_000 }, (err) => {
      if (err) return reject(new Error(`atftp ${file} from port ${port} failed`, { cause: err }))
      resolve(Number(process.hrtime.bigint() - started) / 1e9)
    })
  })
}

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve))
  const { port } = s.address()
  s.close()
  return port
}

/** tftpd-hpa in the foreground; ready once it answers a request for a missing file. */
async function startTftpdHpa(root: string): Promise<{ port: number; child: ChildProcess }> {
  const tftpd = requireCommand('in.tftpd', 'tftpd-hpa')
  const port = await freeUdpPort()
  const child = spawn(tftpd, ['-L', '-s', root, '-a', `127.0.0.1:${port}`], { stdio: 'ignore' })
  const probe = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve))
  try {
    for (let i = 0; i < 50; i++) {
      probe.send(Buffer.from('\0\u0001probe-missing\0octet\0'), port, '127.0.0.1')
      const answered = await Promise.race([once(probe, 'message').then(() => true), new Promise((r) => setTimeout(() => r(false), 100))])
      if (answered) return { port, child }
    }
    throw new Error('tftpd-hpa did not start')
  } finally {
    probe.close()
  }
}

const lockstepClient = fileURLToPath(new URL('./lib/tftp-lockstep-client.ts', import.meta.url))
const STORM = [
  { name: '70kib', label: '70 KiB', bytes: 70 * 1024 },
  { name: '1mib', label: '1 MiB', bytes: 1024 * 1024 },
] as const
const STORM_CLIENTS = 200
const STORM_ROUNDS = 3

interface StormResult {
  bytes: number
  seconds: number
  completed: number
  timeouts: number
  resends: number
}

function storm(port: number, file: string): Promise<StormResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', lockstepClient, String(port), file, String(STORM_CLIENTS)], { timeout: 120_000 }, (err, stdout) => {
      if (err) return reject(new Error('tftp lock-step client failed', { cause: err }))
      resolve(JSON.parse(stdout.trim().split('\n').at(-1) as string) as StormResult)
    })
  })
}

/** This process's CPU seconds (the bench runs bootpolicy's service in-process; clients are children). */
const ownCpuSeconds = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const round = (x: number) => Math.round(x * 10) / 10

export async function run(): Promise<BenchResult> {
  const atftp = requireCommand('atftp', 'atftp')
  const base = mkdtempSync(path.join(tmpdir(), 'bp-bench-tftp-'))
  const root = path.join(base, 'root')
  // tftpd-hpa drops privileges to nobody: the tree must be world-readable.
  chmodSync(base, 0o755)
  mkdirSync(root, { mode: 0o755 })
  for (const f of FILES) writeFileSync(path.join(root, f.name), randomBytes(f.bytes), { mode: 0o644 })
  writeFileSync(path.join(root, '70kib'), randomBytes(70 * 1024), { mode: 0o644 })

  // maxConnections: room for the 200-client storm (the default, 100, would refuse half of it).
  const service = createTftpService(resolveTftpConfig({ enabled: true, address: '127.0.0.1', port: 0, root, maxConnections: 400 }), { logger: pino({ level: 'warn' }) })
  await service.start()
  const ours = service.address().port
  // The same service with every transfer on the main thread (tftp.workers 0, as before the worker
  // pool), for the storm rows only: what the workers themselves bring, in the same run.
  const mainOnly = createTftpService(resolveTftpConfig({ enabled: true, address: '127.0.0.1', port: 0, root, maxConnections: 400, workers: 0 }), { logger: pino({ level: 'warn' }) })
  await mainOnly.start()
  const oursMain = mainOnly.address().port
  const hpa = await startTftpdHpa(root)
  const figures: Figure[] = []
  try {
    // One unmeasured download each, so JIT warm-up and first-open costs are not in the figures.
    for (const port of [ours, hpa.port]) await download(atftp, port, '1mib', path.join(base, 'warmup'), MODES[0].options)
    for (const mode of MODES) {
      for (const f of FILES) {
        const times = { ours: [] as number[], hpa: [] as number[] }
        for (let i = 0; i < f.reps; i++) {
          for (const [who, port] of [
            ['ours', ours],
            ['hpa', hpa.port],
          ] as const) {
            const out = path.join(base, `out-${who}`)
            times[who].push(await download(atftp, port, f.name, out, mode.options))
            if (statSync(out).size !== f.bytes) throw new Error(`short download from ${who}`)
          }
        }
        const mibs = (seconds: number) => f.bytes / 1024 / 1024 / seconds
        const oursRate = mibs(median(times.ours))
        const hpaRate = mibs(median(times.hpa))
        const label = `${f.name === '1mib' ? '1 MiB' : '16 MiB'}, atftp ${mode.name}`
        figures.push({ name: `${label}: tftpd-hpa`, value: round(hpaRate), unit: 'MiB/s' })
        figures.push({ name: `${label}: bootpolicy`, value: round(oursRate), unit: 'MiB/s', ratio: oursRate / hpaRate, baseline: 'tftpd-hpa, same client', target: '≥ 1.0×' })
      }
    }
    for (const f of STORM) {
      const rounds = { ours: [] as StormResult[], hpa: [] as StormResult[], main: [] as StormResult[] }
      const ratios: number[] = []
      const mainRatios: number[] = []
      const cpu: number[] = []
      for (let r = 0; r < STORM_ROUNDS; r++) {
        const order = r % 2 ? (['hpa', 'main', 'ours'] as const) : (['ours', 'main', 'hpa'] as const)
        for (const who of order) {
          // Our CPU per GiB: a loaded machine gives tftpd-hpa's 200 forked children more CPU than
          // one process, so MiB/s alone hides how cheap each block is. (tftpd-hpa's own figure is
          // not measurable this way: its children's CPU is counted only once they are reaped.)
          const before = ownCpuSeconds()
          const result = await storm(who === 'ours' ? ours : who === 'main' ? oursMain : hpa.port, f.name)
          if (who === 'ours') cpu.push(((ownCpuSeconds() - before) / result.bytes) * 1024 ** 3)
          rounds[who].push(result)
        }
        const rate = (x: StormResult) => x.bytes / x.seconds
        ratios.push(rate(rounds.ours[r] as StormResult) / rate(rounds.hpa[r] as StormResult))
        mainRatios.push(rate(rounds.main[r] as StormResult) / rate(rounds.hpa[r] as StormResult))
      }
      const mibs = (xs: StormResult[]) => median(xs.map((x) => x.bytes / 1024 / 1024 / x.seconds))
      const lost = (xs: StormResult[]) => xs.reduce((n, x) => n + x.timeouts, 0)
      const label = `${STORM_CLIENTS} concurrent lock-step ${f.label}`
      figures.push({ name: `${label}: tftpd-hpa`, value: round(mibs(rounds.hpa)), unit: 'MiB/s' })
      figures.push({ name: `${label}: bootpolicy`, value: round(mibs(rounds.ours)), unit: 'MiB/s', ratio: median(ratios), baseline: 'tftpd-hpa, same client', target: '≥ 1.0×' })
      figures.push({ name: `${label}: bootpolicy, tftp.workers 0`, value: round(mibs(rounds.main)), unit: 'MiB/s', ratio: median(mainRatios), baseline: 'tftpd-hpa, same client' })
      figures.push({ name: `${label}: server CPU, bootpolicy`, value: round(median(cpu)), unit: 's/GiB' })
      figures.push({
        name: `${label}: transfers lost, tftpd-hpa / bootpolicy (of ${STORM_CLIENTS * STORM_ROUNDS})`,
        value: lost(rounds.hpa),
        unit: `/ ${lost(rounds.ours)} (workers 0: ${lost(rounds.main)})`,
        target: '0 for bootpolicy',
      })
    }
  } finally {
    hpa.child.kill('SIGTERM')
    await service.close()
    await mainOnly.close()
    rmSync(base, { recursive: true, force: true })
  }
  // Other work on the machine moves these figures; say how busy it was.
  figures.push({ name: 'load average (1 min) at the end of the run', value: Math.round(loadavg()[0]! * 10) / 10, unit: '' })
  return { name: 'tftp-throughput', figures }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const result = await run()
  for (const f of result.figures) {
    process.stdout.write(`${f.name}: ${f.value} ${f.unit}${f.ratio !== undefined ? ` (${f.ratio.toFixed(2)}× ${f.baseline})` : ''}\n`)
  }
}
