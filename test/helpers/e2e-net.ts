/**
 * A private network segment for one e2e run: a network namespace `bpe2e-<pid>-<hex>` holding a
 * bridge (br0, 10.213.X.1/24 and fd00:213:X::1/64) and one tap per VM. Servers and QEMU run inside
 * it through `ip netns exec`; nothing is added to or changed on the host's interfaces.
 *
 * Cleanup is layered: close() stops what was started and deletes the namespace; a guardian shell
 * (started per net, host side) does the same if this process dies without calling close(); and
 * createTestNet() deletes namespaces left by dead processes (the pid is in the name).
 */
import { execFile, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { type OwnedProcess, startProcess } from './e2e-process.js'
import { requireCommand, requireRoot } from './e2e-require.js'
import { isAlive } from './process-alive.js'

const execFileP = promisify(execFile)
const NS_PREFIX = 'bpe2e'

export interface TestNetOptions {
  /** Third octet X of 10.213.X.0/24 (default: random 1–254; the namespace makes any value safe). */
  readonly octet?: number
  /** Answer IPv6 router solicitations (default true). Without an RA iPXE waits ~13 s per boot. */
  readonly routerAdvertisement?: boolean
  /** Logs and generated configs (default: $BOOTPOLICY_E2E_LOGS or <tmpdir>/bootpolicy-e2e, then /<name>). */
  readonly dir?: string
}

export interface TestNet {
  /** Network namespace name. */
  readonly name: string
  readonly bridge: 'br0'
  /** The servers' address on the bridge: 10.213.X.1 (prefix length 24). */
  readonly serverIp: string
  readonly netmask: '255.255.255.0'
  /** A free range for DHCP pools: 10.213.X.100–10.213.X.199. */
  readonly pool: { readonly start: string; readonly end: string }
  readonly serverIp6: string
  /** Per-run directory: process logs, generated configs, firmware variable stores. */
  readonly dir: string
  /** Create a tap inside the namespace, on the bridge; returns its name (tap0, tap1, …). */
  addTap(): Promise<string>
  /** Start a long-running process inside the namespace (output in `<dir>/<name>.log`). */
  spawn(name: string, command: string, args: readonly string[], options?: { env?: NodeJS.ProcessEnv; cwd?: string; stdin?: 'ignore' | 'pipe'; outputToFile?: boolean }): OwnedProcess
  /** Run a command to completion inside the namespace and return its stdout. */
  exec(command: string, args: readonly string[]): Promise<string>
  /** Stop every process, delete the namespace; the log dir is removed unless keepLogs. Idempotent. */
  close(options?: { keepLogs?: boolean }): Promise<void>
}

export async function createTestNet(options: TestNetOptions = {}): Promise<TestNet> {
  requireRoot('a network namespace')
  const ip = requireCommand('ip', 'iproute2')
  sweepStaleTestNets()

  const octet = options.octet ?? 1 + Math.floor(Math.random() * 254)
  const name = `${NS_PREFIX}-${process.pid}-${randomBytes(3).toString('hex')}`
  const dir = options.dir ?? join(process.env.BOOTPOLICY_E2E_LOGS || join(tmpdir(), 'bootpolicy-e2e'), name)
  mkdirSync(dir, { recursive: true })
  const prefix = `10.213.${octet}`
  const serverIp6 = `fd00:213:${octet.toString(16)}::1`
  const bridgeMac = `02:bd:70:00:${octet.toString(16).padStart(2, '0')}:01`

  const run = (...args: string[]): Promise<unknown> => execFileP(ip, args)
  await run('netns', 'add', name)
  const guardian = startGuardian(ip, name)
  const processes: OwnedProcess[] = []
  let taps = 0
  let closed: Promise<void> | undefined

  const net: TestNet = {
    name,
    bridge: 'br0',
    serverIp: `${prefix}.1`,
    netmask: '255.255.255.0',
    pool: { start: `${prefix}.100`, end: `${prefix}.199` },
    serverIp6,
    dir,
    async addTap() {
      const tap = `tap${taps++}`
      await run('-n', name, 'tuntap', 'add', 'dev', tap, 'mode', 'tap')
      await run('-n', name, 'link', 'set', tap, 'master', 'br0')
      await run('-n', name, 'link', 'set', tap, 'up')
      return tap
    },
    spawn(procName, command, args, spawnOptions = {}) {
      if (closed) throw new Error(`e2e: ${name} is closed`)
      const proc = startProcess({
        name: procName,
        command: ip,
        args: ['netns', 'exec', name, command, ...args],
        logFile: join(dir, `${procName}.log`),
        ...spawnOptions,
      })
      processes.push(proc)
      return proc
    },
    async exec(command, args) {
      const { stdout } = await execFileP(ip, ['netns', 'exec', name, command, ...args])
      return stdout
    },
    close(closeOptions = {}) {
      closed ??= (async () => {
        await Promise.all(processes.map((p) => p.stop()))
        destroyNamespace(ip, name)
        if (guardian > 0) {
          try {
            process.kill(-guardian, 'SIGKILL')
          } catch {
            // already gone
          }
        }
        if (!closeOptions.keepLogs) rmSync(dir, { recursive: true, force: true })
      })()
      return closed
    },
  }

  try {
    await run('-n', name, 'link', 'set', 'lo', 'up')
    // A fixed bridge MAC: otherwise it changes to the lowest port's MAC when the first tap joins.
    await run('-n', name, 'link', 'add', 'br0', 'address', bridgeMac, 'type', 'bridge', 'forward_delay', '0')
    await run('-n', name, 'addr', 'add', `${prefix}.1/24`, 'dev', 'br0')
    await run('-n', name, 'addr', 'add', `${serverIp6}/64`, 'dev', 'br0', 'nodad')
    await run('-n', name, 'link', 'set', 'br0', 'up')
    if (options.routerAdvertisement ?? true) await startRouterAdvertiser(net)
  } catch (err) {
    await net.close({ keepLogs: true })
    throw err
  }
  return net
}

/**
 * dnsmasq answering router solicitations on br0, and nothing else (port=0: no DNS; no DHCPv4 range:
 * port 67 stays free for the server under test). Measured: the BIOS boot to the marker drops from
 * 20.7 s to 4.7 s. Disabling IPv6 on the bridge does not help — iPXE waits for an RA that never comes.
 */
export async function startRouterAdvertiser(net: TestNet): Promise<OwnedProcess> {
  const dnsmasq = requireCommand('dnsmasq', 'dnsmasq-base')
  const ra = net.spawn('ra', dnsmasq, [
    '--conf-file=/dev/null',
    '--keep-in-foreground',
    '--log-facility=-',
    '--pid-file=',
    '--user=root',
    '--port=0',
    '--leasefile-ro',
    `--interface=${net.bridge}`,
    '--bind-interfaces',
    '--enable-ra',
    `--dhcp-range=::,constructor:${net.bridge},ra-only`,
  ])
  await ra.waitForOutput(/IPv6 router advertisement enabled/, 5000)
  return ra
}

/** Delete namespaces whose owning process (the pid in `bpe2e-<pid>-<hex>`) is gone. Returns their names. */
export function sweepStaleTestNets(): string[] {
  const ip = requireCommand('ip', 'iproute2')
  const swept: string[] = []
  const list = execFileSync(ip, ['netns', 'list'], { encoding: 'utf8' })
  for (const line of list.split('\n')) {
    const m = new RegExp(`^(${NS_PREFIX}-(\\d+)-[0-9a-f]+)\\b`).exec(line)
    if (!m || isAlive(Number(m[2]))) continue
    destroyNamespace(ip, m[1] as string)
    swept.push(m[1] as string)
  }
  return swept
}

/** SIGKILL whatever still runs inside, then delete the namespace (its taps and bridge go with it). */
function destroyNamespace(ip: string, name: string): void {
  try {
    const pids = execFileSync(ip, ['netns', 'pids', name], { encoding: 'utf8' }).split('\n').filter(Boolean)
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL')
      } catch {
        // already gone
      }
    }
    execFileSync(ip, ['netns', 'del', name], { stdio: 'ignore' })
  } catch {
    // already deleted
  }
}

/** A host-side shell that deletes the namespace once this process is gone, however it died. */
function startGuardian(ip: string, name: string): number {
  const script = 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; ' + 'for p in $("$2" netns pids "$3" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done; ' + '"$2" netns del "$3" 2>/dev/null'
  const child = spawn('sh', ['-c', script, 'bpe2e-guardian', String(process.pid), ip, name], {
    detached: true,
    stdio: 'ignore',
  })
  child.unref()
  return child.pid ?? -1
}
