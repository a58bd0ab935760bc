/** Shared benchmark plumbing: child-process servers, autocannon runs, figures. */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
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

/** Like startServer, for servers that print their port on fd 3: stdout (their log) goes to /dev/null. */
export async function startQuietServer(script: string, args: string[], nodeArgs: string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--no-node-snapshot', ...nodeArgs, '--import', 'tsx', script, ...args], { stdio: ['ignore', 'ignore', 'inherit', 'pipe'], env })
  const rl = createInterface({ input: child.stdio[3] as NodeJS.ReadableStream })
  const [line] = (await Promise.race([
    once(rl, 'line'),
    once(child, 'exit').then(() => {
      throw new Error(`${script} ${args.join(' ')} exited before listening`)
    }),
  ])) as [string]
  return { child, port: (JSON.parse(line) as { port: number }).port }
}

export interface WrkResult {
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly requests: number
  readonly errors: number
}

const run = promisify(execFile)
const wrkScript = fileURLToPath(new URL('./lib/boot-load.lua', import.meta.url))

/** wrk (2 threads) over `distinct` machines of lib/boot-clients.ts; fails naming wrk when it is missing. */
export async function wrkBoot(port: number, options: { connections: number; seconds: number; distinct: number }): Promise<WrkResult> {
  let stdout: string
  try {
    ;({ stdout } = await run('wrk', ['-t2', `-c${options.connections}`, `-d${options.seconds}s`, '-s', wrkScript, `http://127.0.0.1:${port}/`], {
      env: { ...process.env, BP_DISTINCT: String(options.distinct) },
    }))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('bench needs wrk (apt-get install -y wrk)')
    throw err
  }
  const line = stdout.trim().split('\n').at(-1)!
  const r = JSON.parse(line) as { requests: number; us: number; p50: number; p99: number; errors: number }
  return { rps: r.requests / (r.us / 1e6), p50: r.p50, p99: r.p99, requests: r.requests, errors: r.errors }
}

const rawMain = fileURLToPath(new URL('./lib/raw-load-main.ts', import.meta.url))

/** Exactly `count` requests, machines offset..offset+count-1, from a child process. */
export async function rawBoot(port: number, count: number, connections = 50, offset = 0): Promise<{ requests: number; errors: number }> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', rawMain, String(port), String(count), String(connections), String(offset)], { maxBuffer: 1 << 20 })
  return JSON.parse(stdout) as { requests: number; errors: number }
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
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
