/**
 * Other clients' latency while something hostile happens: a client on its own keep-alive
 * connection asks one path after another until stopped, recording each answer's time. Hazard
 * tests compare its p99 during the hazard with its p99 when idle.
 */
import { Agent, request } from 'node:http'

export interface Probe {
  /** Stop asking; resolves with every latency in ms (a request that fails counts as Infinity). */
  stop(): Promise<number[]>
}

export function get(port: number, path: string, agent?: Agent, timeoutMs = 10_000): Promise<{ status: number; body: string; ms: number }> {
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), ms: performance.now() - t0 }))
    })
    req.on('timeout', () => req.destroy(new Error(`no answer to ${path} within ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end()
  })
}

/** Sequential requests to `paths(i)` (i counts up: pass distinct contexts to miss the decision cache). */
export function startProbe(port: number, paths: (i: number) => string): Probe {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const ms: number[] = []
  let running = true
  const loop = (async () => {
    for (let i = 0; running; i++) {
      try {
        const r = await get(port, paths(i), agent, 5000)
        ms.push(r.status === 200 ? r.ms : Infinity)
      } catch {
        ms.push(Infinity)
      }
    }
  })()
  return {
    async stop() {
      running = false
      await loop
      agent.destroy()
      return ms
    },
  }
}

export function p99(ms: readonly number[]): number {
  const sorted = [...ms].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? Infinity
}

/** Idle p99 of the same probe over `durationMs`. */
export async function idleP99(port: number, paths: (i: number) => string, durationMs = 1000): Promise<number> {
  const probe = startProbe(port, paths)
  await new Promise((r) => setTimeout(r, durationMs))
  return p99(await probe.stop())
}
