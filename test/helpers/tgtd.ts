/**
 * A private tgtd for one test: `tgtd -f -C <control> --iscsi portal=127.0.0.1:<port>` with a
 * control port of its own (socket /var/run/tgtd/socket.<control>) and a free loopback TCP port.
 * Killed (and its socket files removed) by stop(), or when the test process exits.
 * A missing tool fails the test with its name and package; it never skips.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

const TOOL_PACKAGES: Record<string, string> = {
  tgtd: 'tgt',
  tgtadm: 'tgt',
  'iscsi-inq': 'libiscsi-bin',
  'iscsi-ls': 'libiscsi-bin',
  'qemu-img': 'qemu-utils',
  'qemu-io': 'qemu-utils (iscsi:// needs qemu-block-extra)',
  'qemu-storage-daemon': 'qemu-system-common',
  fusermount3: 'fuse3',
}

/** Throws naming every missing tool and the Debian package that has it. */
export function requireTools(...tools: string[]): void {
  const missing = tools.filter((t) => {
    try {
      execFileSync('sh', ['-c', 'command -v "$1"', 'sh', t], { stdio: 'ignore' })
      return false
    } catch {
      return true
    }
  })
  if (missing.length) {
    throw new Error(`missing tools: ${missing.map((t) => `${t} (Debian package ${TOOL_PACKAGES[t] ?? '?'})`).join(', ')}; run scripts/install-deps.sh`)
  }
  if (tools.includes('qemu-io') && !existsSync('/usr/lib/x86_64-linux-gnu/qemu/block-iscsi.so')) {
    throw new Error('missing qemu iSCSI block driver (Debian package qemu-block-extra); run scripts/install-deps.sh')
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

export interface Tgtd {
  readonly port: number
  readonly controlPort: number
  readonly pid: number
  /** tgtadm against this tgtd: `tgtadm -C <control> --lld iscsi …args`. */
  tgtadm(...args: string[]): Promise<string>
  output(): string
  stop(): Promise<void>
}

const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const p of running) p.kill('SIGKILL')
})

function socketFiles(control: number): string[] {
  return [`/var/run/tgtd/socket.${control}`, `/var/run/tgtd/socket.${control}.lock`]
}

export async function startTgtd(): Promise<Tgtd> {
  requireTools('tgtd', 'tgtadm')
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort()
    // tgtd refuses control ports above 32767.
    let control = 1024 + Math.floor(Math.random() * 30000)
    while (socketFiles(control).some(existsSync)) control++
    const child = spawn('tgtd', ['-f', '-C', String(control), '--iscsi', `portal=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] })
    running.add(child)
    let out = ''
    child.stdout!.on('data', (b: Buffer) => (out += b))
    child.stderr!.on('data', (b: Buffer) => (out += b))
    const exited = new Promise<void>((r) => child.once('exit', () => r()))
    const tgtadm = (...args: string[]): Promise<string> =>
      new Promise((resolve, reject) => {
        execFile('tgtadm', ['-C', String(control), '--lld', 'iscsi', ...args], (err, stdout, stderr) =>
          err ? reject(new Error(`tgtadm ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout),
        )
      })
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await exited
      }
      running.delete(child)
      for (const f of socketFiles(control)) rmSync(f, { force: true })
    }
    let ready = false
    for (let i = 0; i < 100 && child.exitCode === null; i++) {
      if (
        (await tgtadm('--mode', 'target', '--op', 'show').then(
          () => true,
          () => false,
        )) &&
        (await canConnect(port))
      ) {
        ready = true
        break
      }
      await sleep(50)
    }
    if (ready) return { port, controlPort: control, pid: child.pid!, tgtadm, output: () => out, stop }
    await stop()
    if (attempt === 4) throw new Error(`tgtd did not start: ${out}`)
  }
  throw new Error('unreachable')
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}
