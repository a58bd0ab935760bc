/**
 * Starts run-dhcp-server.ts inside a LAN host's namespace and gives the test a handle:
 * parsed log lines, the lease list, a clean stop (SIGTERM) and a crash (SIGKILL).
 */
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'
import type { DhcpConfig } from '../../core/dhcp/config-schema.js'
import type { Lease } from '../../core/dhcp/lease-store.js'
import type { Lan } from './netns.js'

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

/** Argument list that starts a TypeScript entry point with the repo's loader. */
export function nodeTs(script: string): string[] {
  return ['--no-node-snapshot', '--import', 'tsx', resolve(REPO_ROOT, script)]
}

export interface LogLine {
  readonly level: number
  readonly msg: string
  readonly [key: string]: unknown
}

export interface DhcpServerHandle {
  readonly logs: LogLine[]
  readonly stateDir: string
  readonly process: ChildProcess
  /** Resolves with the first log line whose msg equals `msg` (already logged or future). */
  waitForLog(msg: string, timeoutMs?: number): Promise<LogLine>
  leases(): Promise<Lease[]>
  /** The service's metrics, parsed: `name{labels}` → value. */
  metrics(): Promise<Map<string, number>>
  stop(): Promise<number | null>
  kill(): Promise<void>
  readonly exited: boolean
}

export interface StartOptions {
  readonly stateDir?: string
  readonly hookModule?: string
  readonly logLevel?: string
  /** Record every packet in a default-settings machine timeline, as `serve` does (DHCP_TEST_TIMELINE). */
  readonly timeline?: boolean
  /** `state` settings for the server process (run-dhcp-server.ts DHCP_TEST_STATE). */
  readonly state?: Record<string, unknown>
  /** Extra node flags for the server process (profiling: `--cpu-prof`). */
  readonly nodeArgs?: readonly string[]
}

export async function startDhcpServer(lan: Lan, host: string, config: DhcpConfig, options: StartOptions = {}): Promise<DhcpServerHandle> {
  const stateDir = options.stateDir ?? (await mkdtemp(join(tmpdir(), 'bp-dhcp-state-')))
  const child = lan.spawn(host, process.execPath, [...(options.nodeArgs ?? []), ...nodeTs('test/helpers/run-dhcp-server.ts')], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      DHCP_TEST_CONFIG: JSON.stringify(config),
      DHCP_TEST_STATE_DIR: stateDir,
      DHCP_TEST_LOG_LEVEL: options.logLevel ?? 'debug',
      ...(options.hookModule ? { DHCP_TEST_HOOK: options.hookModule } : {}),
      ...(options.state ? { DHCP_TEST_STATE: JSON.stringify(options.state) } : {}),
      ...(options.timeline ? { DHCP_TEST_TIMELINE: '1' } : {}),
    },
  })
  const logs: LogLine[] = []
  const waiters: Array<(line: LogLine) => void> = []
  const leaseWaiters: Array<(leases: Lease[]) => void> = []
  const metricWaiters: Array<(text: string) => void> = []
  let stderr = ''
  let exited = false
  let buffered = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk
    let nl: number
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const raw = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      let parsed: Record<string, unknown>
      try {
        parsed = JSON.parse(raw) as Record<string, unknown>
      } catch {
        continue
      }
      if (Array.isArray(parsed.leases)) {
        leaseWaiters.shift()?.(parsed.leases as Lease[])
        continue
      }
      if (typeof parsed.metrics === 'string') {
        metricWaiters.shift()?.(parsed.metrics)
        continue
      }
      logs.push(parsed as LogLine)
      for (const w of [...waiters]) w(parsed as LogLine)
    }
  })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const exit = new Promise<number | null>((res) =>
    child.once('exit', (code) => {
      exited = true
      res(code)
    }),
  )

  const waitForLog = (msg: string, timeoutMs = 20_000): Promise<LogLine> => {
    const found = logs.find((l) => l.msg === msg)
    if (found) return Promise.resolve(found)
    return new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`DHCP server did not log "${msg}" within ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`)), timeoutMs)
      const waiter = (line: LogLine): void => {
        if (line.msg !== msg) return
        clearTimeout(timer)
        waiters.splice(waiters.indexOf(waiter), 1)
        res(line)
      }
      waiters.push(waiter)
      void exit.then((code) => {
        clearTimeout(timer)
        rej(new Error(`DHCP server exited (${code}) before logging "${msg}"; stderr: ${stderr.slice(-2000)}; last log: ${JSON.stringify(logs.slice(-3))}`))
      })
    })
  }

  await waitForLog('dhcp test server ready')
  return {
    logs,
    stateDir,
    process: child,
    waitForLog,
    get exited() {
      return exited
    },
    leases: () =>
      new Promise((res) => {
        leaseWaiters.push(res)
        child.stdin!.write('leases\n')
      }),
    metrics: () =>
      new Promise((res) => {
        metricWaiters.push((text) => res(parseMetrics(text)))
        child.stdin!.write('metrics\n')
      }),
    stop: async () => {
      if (!exited) child.kill('SIGTERM')
      return exit
    },
    kill: async () => {
      if (!exited) child.kill('SIGKILL')
      await exit
    },
  }
}

/** Prometheus text lines (`name{labels} value`) as a map; comments skipped. */
export function parseMetrics(text: string): Map<string, number> {
  const map = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    map.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return map
}
