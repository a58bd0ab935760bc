/**
 * Throwaway network namespaces for tests that need real sockets, real broadcast and real clients
 * (DHCP, TFTP, iSCSI, QEMU). `createLan` builds one switch namespace holding a bridge, and one
 * namespace per host, each with an `eth0` veth plugged into the bridge. Nothing is created in, or
 * routed to, the host's own namespace: every `ip` command names the test's namespaces.
 *
 * Names are `bpt-<pid>-<n>-<host>`, unique per run. Cleanup (kill tracked processes, delete the
 * namespaces, which destroys their veths) runs on t.teardown, on process exit, and namespaces left
 * by a killed run (its pid no longer alive) are swept when the next LAN is created.
 *
 * Needs root (or CAP_NET_ADMIN + CAP_SYS_ADMIN) and iproute2. A missing tool throws an error that
 * names it: tests fail, they never skip.
 */
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { promisify } from 'node:util'
import { isAlive } from './process-alive.js'

const execFileP = promisify(execFile)
const PREFIX = 'bpt-'

export interface LanHostSpec {
  /** Short name, [a-z0-9]{1,12}: used in the namespace name. */
  readonly name: string
  /** Address with prefix length for eth0, e.g. `10.77.0.1/24`; none leaves eth0 unnumbered. */
  readonly address?: string
  /** MAC for eth0 (random otherwise). */
  readonly mac?: string
}

export interface LanHost {
  readonly name: string
  /** The namespace name, for `ip netns exec`. */
  readonly ns: string
  readonly ifname: 'eth0'
  /** eth0's address without prefix length, if one was given. */
  readonly ip?: string
  readonly mac: string
}

export interface ExecResult {
  readonly stdout: string
  readonly stderr: string
}

export interface Lan {
  readonly hosts: Readonly<Record<string, LanHost>>
  host(name: string): LanHost
  /** Runs a command in a host's namespace and resolves with its output; rejects on non-zero exit. */
  exec(host: string, command: string, args?: readonly string[], options?: { timeoutMs?: number; input?: string; cwd?: string; env?: NodeJS.ProcessEnv }): Promise<ExecResult>
  /** Starts a long-running process in a host's namespace; it is killed at cleanup if still running. */
  spawn(host: string, command: string, args?: readonly string[], options?: SpawnOptions): ChildProcess
  close(): Promise<void>
}

interface Teardownable {
  teardown(fn: () => unknown): void
}

let counter = 0
const live = new Set<{ namespaces: string[]; children: Set<ChildProcess> }>()
let exitHookInstalled = false

/** Throws `Required tool "<name>" is not installed (<hint>)` when `name` is not on PATH. */
export function requireTool(name: string, hint = ''): string {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter).concat(['/usr/sbin', '/sbin'])) {
    const candidate = join(dir, name)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // try the next directory
    }
  }
  throw new Error(`Required tool "${name}" is not installed${hint ? ` (${hint})` : ''}`)
}

export async function createLan(t: Teardownable | undefined, specs: readonly LanHostSpec[]): Promise<Lan> {
  requireTool('ip', 'apt-get install iproute2')
  if (process.getuid?.() !== 0) throw new Error('Network-namespace tests need root (CAP_NET_ADMIN and CAP_SYS_ADMIN)')
  for (const s of specs) if (!/^[a-z0-9]{1,12}$/.test(s.name)) throw new Error(`bad host name ${s.name}`)
  sweepStale()
  const id = `${PREFIX}${process.pid}-${++counter}`
  const sw = `${id}-sw`
  const record = { namespaces: [sw], children: new Set<ChildProcess>() }
  live.add(record)
  installExitHook()
  const close = async (): Promise<void> => {
    if (!live.has(record)) return
    live.delete(record)
    await killAll(record.children)
    for (const ns of record.namespaces.reverse()) await execFileP('ip', ['netns', 'del', ns]).catch(() => undefined)
  }
  t?.teardown(close)
  const ip = (...args: string[]): Promise<unknown> => execFileP('ip', args)
  const hosts: Record<string, LanHost> = {}
  try {
    await ip('netns', 'add', sw)
    await ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge')
    await ip('-n', sw, 'link', 'set', 'br0', 'up')
    let index = 0
    for (const spec of specs) {
      const ns = `${id}-${spec.name}`
      await ip('netns', 'add', ns)
      record.namespaces.push(ns)
      const port = `p${index++}`
      // Created inside the switch namespace with the peer moved straight into the host's one.
      await ip('-n', sw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
      await ip('-n', sw, 'link', 'set', port, 'master', 'br0', 'up')
      if (spec.mac) await ip('-n', ns, 'link', 'set', 'eth0', 'address', spec.mac)
      await ip('-n', ns, 'link', 'set', 'lo', 'up')
      await ip('-n', ns, 'link', 'set', 'eth0', 'up')
      if (spec.address) await ip('-n', ns, 'addr', 'add', spec.address, 'dev', 'eth0')
      const { stdout } = await execFileP('ip', ['-n', ns, '-j', 'link', 'show', 'eth0'])
      const mac = (JSON.parse(stdout) as Array<{ address: string }>)[0]!.address
      hosts[spec.name] = { name: spec.name, ns, ifname: 'eth0', mac, ...(spec.address ? { ip: spec.address.split('/')[0]! } : {}) }
    }
  } catch (err) {
    await close()
    throw err
  }

  const host = (name: string): LanHost => {
    const h = hosts[name]
    if (!h) throw new Error(`no host ${name} on this LAN`)
    return h
  }
  return {
    hosts,
    host,
    close,
    exec: async (name, command, args = [], options = {}) => {
      const child = execFileP('ip', ['netns', 'exec', host(name).ns, command, ...args], {
        timeout: options.timeoutMs ?? 30_000,
        maxBuffer: 64 << 20,
        ...(options.cwd ? { cwd: options.cwd } : {}),
        ...(options.env ? { env: options.env } : {}),
      })
      if (options.input !== undefined) child.child.stdin?.end(options.input)
      const { stdout, stderr } = await child
      return { stdout, stderr }
    },
    spawn: (name, command, args = [], options = {}) => {
      const child = spawn('ip', ['netns', 'exec', host(name).ns, command, ...args], { stdio: 'pipe', ...options })
      record.children.add(child)
      child.once('exit', () => record.children.delete(child))
      return child
    },
  }
}

async function killAll(children: Set<ChildProcess>): Promise<void> {
  await Promise.all(
    [...children].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve()
          const timer = setTimeout(() => child.kill('SIGKILL'), 2000)
          child.once('exit', () => {
            clearTimeout(timer)
            resolve()
          })
          child.kill('SIGTERM')
        }),
    ),
  )
}

/** Last resort for a crashing test process: synchronous, best effort. */
function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const record of live) {
      for (const child of record.children) child.kill('SIGKILL')
      for (const ns of record.namespaces) {
        try {
          execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' })
        } catch {
          /* already gone */
        }
      }
    }
  })
}

/** Deletes `bpt-<pid>-…` namespaces whose creating process is gone (a run killed with SIGKILL). */
function sweepStale(): void {
  let names: string[]
  try {
    names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter((n) => n.startsWith(PREFIX))
  } catch {
    return
  }
  for (const name of names) {
    const pid = Number(name.slice(PREFIX.length).split('-')[0])
    if (!Number.isInteger(pid) || pid === process.pid || isAlive(pid)) continue
    try {
      execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' })
    } catch {
      /* raced with another sweeper */
    }
  }
}
