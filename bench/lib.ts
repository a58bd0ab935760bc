/** Shared benchmark plumbing: child-process servers, autocannon runs, figures. */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import autocannon from 'autocannon'

export interface Figure {
  readonly name: string
  readonly value: number
  readonly unit: string
  /** Value divided by the baseline measured in the same run, when there is one. */
  readonly ratio?: number
  readonly baseline?: string
  readonly target?: string
}

export interface BenchResult {
  readonly name: string
  readonly figures: Figure[]
}

export async function startServer(script: string, args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  const rl = createInterface({ input: child.stdout! })
  const [line] = (await once(rl, 'line')) as [string]
  return { child, port: (JSON.parse(line) as { port: number }).port }
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  child.kill('SIGTERM')
  await once(child, 'exit')
}

export function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
}

export interface LoadResult {
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly requests: number
  readonly errors: number
}

/** Round-robin over `paths` with `connections` keep-alive connections for `seconds` (or `amount` requests). */
export async function load(port: number, paths: string[], options: { connections: number; seconds?: number; amount?: number }): Promise<LoadResult> {
  let i = 0
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: options.connections,
    ...(options.amount ? { amount: options.amount } : { duration: options.seconds ?? 5 }),
    requests: [{ setupRequest: (req) => ({ ...req, path: paths[i++ % paths.length]! }) }],
  })
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, requests: result.requests.total, errors: result.errors + result.non2xx }
}

export function macPaths(count: number): string[] {
  return Array.from({ length: count }, (_, n) => {
    const mac = `52:54:00:${((n >> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}:00`
    return `/boot?mac=${encodeURIComponent(mac)}&buildarch=x86_64&platform=efi&serial_hex=53:4e:2d:${(n % 256).toString(16).padStart(2, '0')}`
  })
}

/** Start a bench server in `mode`, warm it up (JIT, isolates, caches), then measure 100 connections. */
export async function measureServer(script: string, mode: string, paths: string[], seconds: number): Promise<LoadResult> {
  const s = await startServer(script, [mode])
  try {
    await load(s.port, paths, { connections: 20, seconds: 1 })
    return await load(s.port, paths, { connections: 100, seconds })
  } finally {
    await stop(s.child)
  }
}
