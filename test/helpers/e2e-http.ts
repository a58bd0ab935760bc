/**
 * Start the static HTTP server (e2e-static-http-server.ts) inside a TestNet and read back the
 * requests it served.
 */
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TestNet } from './e2e-net.js'
import type { OwnedProcess } from './e2e-process.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const REPO = resolve(HERE, '..', '..')

export interface HttpRequestRecord {
  readonly method: string
  readonly url: string
  readonly ua: string
  readonly status: number
  readonly bytes: number
  readonly ms: number
}

export interface StaticHttp {
  /** http://<serverIp>:<port> (no trailing slash). */
  readonly url: string
  readonly process: OwnedProcess
  /** Requests served so far, in order. */
  requests(): HttpRequestRecord[]
}

export async function startStaticHttp(net: TestNet, options: { root: string; port?: number; name?: string }): Promise<StaticHttp> {
  const port = options.port ?? 8080
  const proc = net.spawn(options.name ?? 'http', process.execPath, ['--import', 'tsx', join(HERE, 'e2e-static-http-server.ts'), options.root, net.serverIp, String(port)], { cwd: REPO })
  await proc.waitForOutput(/"listening"/, 15_000)
  return {
    url: `http://${net.serverIp}:${port}`,
    process: proc,
    requests: () =>
      proc
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{"method"'))
        .map((line) => JSON.parse(line) as HttpRequestRecord),
  }
}
