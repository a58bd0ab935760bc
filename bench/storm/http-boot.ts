/**
 * The HTTP part of an iPXE boot for the boot-storm generator, from the client's leased address on
 * one keep-alive connection, with iPXE's headers (Host, Connection, User-Agent): the boot file
 * URL from DHCP (a `chain` script), the URL its `chain` line names with iPXE's settings expanded
 * (`${mac:hexhyp}`, `${uuid}`, …, exactly what bootpolicy's /boot.ipxe makes iPXE send), then the
 * `kernel` and `initrd` that script names. Bodies are counted and discarded.
 */
import http from 'node:http'

export const IPXE_USER_AGENT = 'iPXE/1.0.0+git-20190125.36a4c85-5.1'

/** What iPXE knows about itself: the values `${name}` expands to (hexhyp computed from them). */
export type Settings = Readonly<Record<string, string>>

export interface HttpBootResult {
  readonly scriptMs: number
  readonly kernelMs: number
  readonly initrdMs: number
  readonly kernelBytes: number
  readonly initrdBytes: number
  /** Requests that went over an already open connection (3 when keep-alive held throughout). */
  readonly reused: number
}

const hexhyp = (text: string): string => [...Buffer.from(text, 'latin1')].map((b) => b.toString(16).padStart(2, '0')).join('-')

/** iPXE's expansion of `${name}` and `${name:hexhyp}` (an unknown setting expands to nothing). */
export function expandSettings(text: string, settings: Settings): string {
  return text.replace(/\$\{([a-z0-9_-]+)(?::([a-z]+))?\}/gi, (_m, name: string, type: string | undefined) => {
    const value = settings[name] ?? ''
    if (type === 'hexhyp') return name === 'mac' ? value.replaceAll(':', '-') : hexhyp(value)
    return value
  })
}

/** iPXE image-command options that take a value (`imgfetch`, `chain`, `kernel`, `initrd`). */
const VALUE_OPTIONS = new Set(['--name', '-n', '--timeout', '-t'])

/** The image URL of the first line that starts with `command`, after its options. */
function commandTarget(script: string, command: string): string | undefined {
  const line = script.split('\n').find((l) => l.startsWith(`${command} `))
  const words = line?.trim().split(/\s+/).slice(1) ?? []
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!
    if (VALUE_OPTIONS.has(w)) i++
    else if (!w.startsWith('-')) return w
  }
  return undefined
}

interface Got {
  readonly status: number
  readonly body: string
  readonly bytes: number
  readonly reused: boolean
}

function get(agent: http.Agent, url: URL, keepBody: boolean, idleMs: number): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers: { 'User-Agent': IPXE_USER_AGENT } }, (res) => {
      let bytes = 0
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => {
        bytes += c.length
        if (keepBody) chunks.push(c)
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: keepBody ? Buffer.concat(chunks).toString('utf8') : '', bytes, reused: req.reusedSocket }))
      res.on('error', reject)
      res.on('aborted', () => reject(new Error(`${url.pathname}: response aborted after ${bytes} bytes`)))
    })
    req.setTimeout(idleMs, () => req.destroy(new Error(`${url.pathname}: no data for ${idleMs} ms`)))
    req.on('error', reject)
  })
}

export async function httpBoot(options: { localAddress: string; bootUrl: string; settings: Settings; idleMs?: number }): Promise<HttpBootResult> {
  const idleMs = options.idleMs ?? 60_000
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1, localAddress: options.localAddress })
  try {
    const t0 = performance.now()
    const bootstrapUrl = new URL(options.bootUrl)
    const bootstrap = await get(agent, bootstrapUrl, true, idleMs)
    if (bootstrap.status !== 200) throw new Error(`${bootstrapUrl.pathname}: HTTP ${bootstrap.status}`)
    const chain = commandTarget(bootstrap.body, 'chain')
    if (!chain) throw new Error(`${bootstrapUrl.pathname}: no chain line in ${JSON.stringify(bootstrap.body.slice(0, 200))}`)
    const bootUrl = new URL(expandSettings(chain, options.settings), bootstrapUrl)
    const script = await get(agent, bootUrl, true, idleMs)
    if (script.status !== 200) throw new Error(`${bootUrl.pathname}: HTTP ${script.status}`)
    const kernel = commandTarget(script.body, 'kernel')
    const initrd = commandTarget(script.body, 'initrd')
    if (!kernel || !initrd) throw new Error(`${bootUrl.pathname}: no kernel and initrd in ${JSON.stringify(script.body.slice(0, 300))}`)
    const t1 = performance.now()
    const k = await get(agent, new URL(kernel, bootUrl), false, idleMs)
    if (k.status !== 200) throw new Error(`kernel: HTTP ${k.status}`)
    const t2 = performance.now()
    const i = await get(agent, new URL(initrd, bootUrl), false, idleMs)
    if (i.status !== 200) throw new Error(`initrd: HTTP ${i.status}`)
    const t3 = performance.now()
    return {
      scriptMs: t1 - t0,
      kernelMs: t2 - t1,
      initrdMs: t3 - t2,
      kernelBytes: k.bytes,
      initrdBytes: i.bytes,
      reused: [script, k, i].filter((g) => g.reused).length,
    }
  } finally {
    agent.destroy()
  }
}
