/**
 * Real DHCP clients run inside a LAN host's namespace: busybox udhcpc, ISC dhclient, and the
 * scripted probe (dhcp-probe.ts) for packets no stock client sends (PXE, iPXE, fuzz).
 * Each returns what the client learned, so tests assert the whole result.
 */
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decode, type DhcpPacket } from '../../core/dhcp/packet-codec.js'
import { requireTool, type Lan } from './netns.js'
import { nodeTs, REPO_ROOT } from './dhcp-server.js'

export type ClientResult = Record<string, string>

const UDHCPC_VARS = ['ip', 'subnet', 'broadcast', 'router', 'dns', 'domain', 'lease', 'serverid', 'siaddr', 'sname', 'boot_file', 'hostname', 'ntpsrv', 'opt175']

/** busybox udhcpc once (-q): the variables of its `bound` event, or throws with its output. */
export async function udhcpc(lan: Lan, host: string, args: readonly string[] = []): Promise<ClientResult> {
  requireTool('busybox', 'apt-get install busybox-static')
  const dir = await mkdtemp(join(tmpdir(), 'bp-udhcpc-'))
  const script = join(dir, 'script.sh')
  await writeFile(script, `#!/bin/sh\necho "EVENT=$1"\n${UDHCPC_VARS.map((v) => `[ -n "$${v}" ] && echo "${v}=$${v}"`).join('\n')}\necho END\nexit 0\n`)
  await chmod(script, 0o755)
  let stdout: string
  try {
    ;({ stdout } = await lan.exec(host, 'busybox', ['udhcpc', '-i', 'eth0', '-f', '-q', '-n', '-t', '4', '-T', '1', '-A', '1', '-s', script, ...args], { timeoutMs: 20_000 }))
  } catch (err) {
    throw new Error(`udhcpc got no lease: ${(err as { stdout?: string; stderr?: string }).stderr ?? String(err)}`)
  }
  return lastEvent(stdout, 'bound')
}

function lastEvent(output: string, event: string): ClientResult {
  const blocks = output.split('END\n').map((block) => {
    const vars: ClientResult = {}
    for (const line of block.split('\n')) {
      const eq = line.indexOf('=')
      if (eq > 0) vars[line.slice(0, eq)] = line.slice(eq + 1)
    }
    return vars
  })
  const found = blocks.filter((b) => b.EVENT === event).pop()
  if (!found) throw new Error(`client never reached "${event}"; output:\n${output}`)
  return found
}

/**
 * ISC dhclient in the foreground until its script sees BOUND (or REBOOT), then stopped.
 * Returns the `new_*` variables without the prefix. `leaseFile` lets a test reuse a lease (INIT-REBOOT).
 */
export async function dhclient(lan: Lan, host: string, options: { leaseFile?: string; timeoutMs?: number } = {}): Promise<ClientResult & { reason: string }> {
  requireTool('dhclient', 'apt-get install isc-dhcp-client')
  const dir = await mkdtemp(join(tmpdir(), 'bp-dhclient-'))
  const script = join(dir, 'script.sh')
  const out = join(dir, 'bound.env')
  const conf = join(dir, 'dhclient.conf')
  await writeFile(script, `#!/bin/sh\ncase "$reason" in BOUND|REBOOT|RENEW) env | grep -E '^new_' > "${out}.tmp"; echo "reason=$reason" >> "${out}.tmp"; mv "${out}.tmp" "${out}";; esac\nexit 0\n`)
  await chmod(script, 0o755)
  await writeFile(conf, 'timeout 20;\nretry 1;\ninitial-interval 1;\nrequest subnet-mask, broadcast-address, routers, domain-name, domain-name-servers, host-name, ntp-servers;\n')
  const leaseFile = options.leaseFile ?? join(dir, 'dhclient.leases')
  const child = lan.spawn(host, 'dhclient', ['-4', '-d', '-1', '-v', '-cf', conf, '-lf', leaseFile, '-pf', join(dir, 'pid'), '-sf', script, 'eth0'])
  let log = ''
  child.stderr!.on('data', (c: Buffer) => {
    log += c.toString()
  })
  child.stdout!.resume()
  const deadline = Date.now() + (options.timeoutMs ?? 20_000)
  try {
    while (Date.now() < deadline) {
      const text = await readFile(out, 'utf8').catch(() => undefined)
      if (text) {
        const vars: Record<string, string> = {}
        for (const line of text.trim().split('\n')) {
          const eq = line.indexOf('=')
          vars[line.slice(0, eq).replace(/^new_/, '')] = line.slice(eq + 1)
        }
        return vars as ClientResult & { reason: string }
      }
      if (child.exitCode !== null) break
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`dhclient got no lease:\n${log}`)
  } finally {
    child.kill('SIGKILL')
  }
}

export interface ProbeReply {
  readonly packet: DhcpPacket
  readonly from: string
  readonly port: number
}

export interface ProbeJob {
  readonly send: ReadonlyArray<{ readonly bytes: Buffer; readonly to: string; readonly port: number }>
  readonly bindPort?: number
  /** Send from this address (it must be on the host's eth0); default the host's own address. */
  readonly sourceAddress?: string
  readonly listenMs?: number
  readonly expect?: number
  readonly gapMs?: number
}

/** Sends raw datagrams from `host` and returns the decoded replies. */
export async function probe(lan: Lan, host: string, job: ProbeJob): Promise<ProbeReply[]> {
  const input = JSON.stringify({
    bindPort: job.bindPort ?? 68,
    ...((job.sourceAddress ?? lan.host(host).ip) ? { sourceAddress: job.sourceAddress ?? lan.host(host).ip } : {}),
    listenMs: job.listenMs ?? 1500,
    ...(job.expect !== undefined ? { expect: job.expect } : {}),
    ...(job.gapMs !== undefined ? { gapMs: job.gapMs } : {}),
    send: job.send.map((s) => ({ hex: s.bytes.toString('hex'), to: s.to, port: s.port })),
  })
  const { stdout } = await lan.exec(host, process.execPath, nodeTs('test/helpers/dhcp-probe.ts'), { input, timeoutMs: 60_000, cwd: REPO_ROOT })
  const { replies } = JSON.parse(stdout) as { replies: Array<{ hex: string; from: string; port: number }> }
  return replies.map((r) => ({ packet: decode(Buffer.from(r.hex, 'hex')), from: r.from, port: r.port }))
}

export { REPO_ROOT }

export interface UdhcpcDaemon {
  /** Every script event so far (`bound`, `renew`, `nak`, `deconfig`, `leasefail`), oldest first. */
  readonly events: ClientResult[]
  /** Resolves with the first event at index ≥ `from` that is not `deconfig`; rejects after `timeoutMs`. */
  next(from: number, timeoutMs?: number): Promise<ClientResult>
  /** SIGUSR1: udhcpc renews at once (a unicast REQUEST from its address to the server). */
  renew(): void
  stop(): Promise<void>
}

/** SIGUSR1 to each client at once; their next events (a `renew`, or what went wrong instead). */
export function renewEach(clients: readonly UdhcpcDaemon[], timeoutMs = 60_000): Promise<ClientResult[]> {
  return Promise.all(
    clients.map((c) => {
      const from = c.events.length
      c.renew()
      return c.next(from, timeoutMs)
    }),
  )
}

/**
 * busybox udhcpc as a long-running client: it puts the leased address on eth0 (so a renewal is
 * a real unicast from that address), keeps running, and reports each script event.
 */
export async function udhcpcDaemon(lan: Lan, host: string): Promise<UdhcpcDaemon> {
  requireTool('busybox', 'apt-get install busybox-static')
  requireTool('ip', 'apt-get install iproute2')
  const dir = await mkdtemp(join(tmpdir(), 'bp-udhcpcd-'))
  const script = join(dir, 'script.sh')
  await writeFile(
    script,
    [
      '#!/bin/sh',
      'case "$1" in',
      '  bound|renew) ip addr replace "$ip/$mask" dev "$interface" ;;',
      '  deconfig|nak) ip addr flush dev "$interface" ;;',
      'esac',
      'echo "EVENT=$1"',
      ...UDHCPC_VARS.map((v) => `[ -n "$${v}" ] && echo "${v}=$${v}"`),
      'echo END',
      'exit 0',
      '',
    ].join('\n'),
  )
  await chmod(script, 0o755)
  const child = lan.spawn(host, 'busybox', ['udhcpc', '-i', 'eth0', '-f', '-t', '4', '-T', '1', '-A', '1', '-s', script])
  const events: ClientResult[] = []
  const waiters = new Set<() => void>()
  let buffered = ''
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    stderr += c
  })
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk
    let end: number
    while ((end = buffered.indexOf('END\n')) !== -1) {
      const vars: ClientResult = {}
      for (const line of buffered.slice(0, end).split('\n')) {
        const eq = line.indexOf('=')
        if (eq > 0) vars[line.slice(0, eq)] = line.slice(eq + 1)
      }
      buffered = buffered.slice(end + 4)
      events.push(vars)
      for (const w of [...waiters]) w()
    }
  })
  const next = (from: number, timeoutMs = 15_000): Promise<ClientResult> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = events.slice(from).find((e) => e.EVENT !== 'deconfig')
        if (!found) return
        waiters.delete(check)
        clearTimeout(timer)
        resolve(found)
      }
      const timer = setTimeout(() => {
        waiters.delete(check)
        reject(new Error(`udhcpc reported no event within ${timeoutMs} ms; events ${JSON.stringify(events)}; stderr ${stderr.slice(-1000)}`))
      }, timeoutMs)
      waiters.add(check)
      check()
    })
  return {
    events,
    next,
    renew: () => {
      child.kill('SIGUSR1')
    },
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}
