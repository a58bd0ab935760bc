/**
 * The qcow2 backend: `qemu-img create -f qcow2 -b <base> -F raw` makes an overlay of a few hundred
 * KiB; `qemu-storage-daemon` opens it and exports the virtual disk as a plain file through FUSE
 * (`--export type=fuse,…,writable=on`), which tgtd uses as its backing store. The daemon runs
 * detached (`--daemonize`, pid file): it outlives bootpolicy restarts so that booted clients keep
 * their disk, and is adopted again from its pid file on start.
 */
import { mkdirSync, readFileSync } from 'node:fs'
import { readFile, rename, stat, unlink, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { alive } from './key-mutex.js'
import type { CowBackend, DiskPaths } from './cow-backend.js'
import type { Runner } from './exec.js'

export interface Qcow2Options {
  readonly dataDir: string
  readonly qemuImg: string
  readonly qemuStorageDaemon: string
}

/** qemu's option syntax: a `,` inside a value is written `,,`. */
export function qemuValue(value: string): string {
  return value.replaceAll(',', ',,')
}

export class Qcow2Backend implements CowBackend {
  readonly name = 'qcow2' as const

  constructor(
    private readonly run: Runner,
    private readonly options: Qcow2Options,
  ) {}

  paths(instance: string, user: string): DiskPaths {
    return {
      overlay: join(this.options.dataDir, 'overlays', instance, `${user}.qcow2`),
      device: join(this.options.dataDir, 'exports', instance, `${user}.raw`),
    }
  }

  pidFile(instance: string, user: string): string {
    return join(this.options.dataDir, 'run', instance, `${user}.pid`)
  }

  createOverlayArgs(base: string, file: string): string[] {
    return ['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'raw', file]
  }

  daemonArgs(overlay: string, mountpoint: string, pidFile: string): string[] {
    return [
      '--daemonize',
      '--pidfile',
      pidFile,
      '--blockdev',
      `driver=file,node-name=file0,filename=${qemuValue(overlay)}`,
      '--blockdev',
      'driver=qcow2,node-name=disk0,file=file0',
      '--export',
      `type=fuse,id=export0,node-name=disk0,mountpoint=${qemuValue(mountpoint)},writable=on`,
    ]
  }

  async createOverlay(base: string, overlay: string): Promise<void> {
    mkdirSync(dirname(overlay), { recursive: true, mode: 0o700 })
    const tmp = `${overlay}.tmp-${process.pid}`
    try {
      await this.run(this.options.qemuImg, this.createOverlayArgs(base, tmp))
      await rename(tmp, overlay)
    } catch (err) {
      await unlink(tmp).catch(() => undefined)
      throw err
    }
  }

  async ensureDevice(instance: string, user: string): Promise<{ started: boolean }> {
    const { overlay, device } = this.paths(instance, user)
    const pidFile = this.pidFile(instance, user)
    const pid = await this.daemonPid(instance, user)
    const mounted = isMounted(device)
    if (pid !== undefined && mounted) return { started: false }
    // A daemon without its mount, or a mount without its daemon (kill -9): clear both, start afresh.
    if (pid !== undefined) await this.stopPid(pid)
    if (isMounted(device)) await this.run('umount', ['-l', device])
    mkdirSync(dirname(device), { recursive: true, mode: 0o700 })
    mkdirSync(dirname(pidFile), { recursive: true, mode: 0o700 })
    await writeFile(device, '', { flag: 'a' })
    await this.run(this.options.qemuStorageDaemon, this.daemonArgs(overlay, device, pidFile), { logFile: `${pidFile.replace(/\.pid$/, '')}.log` })
    return { started: true }
  }

  async deviceUp(instance: string, user: string): Promise<boolean> {
    return (await this.daemonPid(instance, user)) !== undefined && isMounted(this.paths(instance, user).device)
  }

  async removeDevice(instance: string, user: string): Promise<void> {
    const { device } = this.paths(instance, user)
    const pid = await this.daemonPid(instance, user)
    if (pid !== undefined) await this.stopPid(pid)
    if (isMounted(device)) await this.run('umount', ['-l', device])
    await unlink(this.pidFile(instance, user)).catch(() => undefined)
    if (!isMounted(device)) await unlink(device).catch(() => undefined)
  }

  async overlayBytes(overlay: string): Promise<number> {
    const st = await stat(overlay)
    return st.blocks * 512
  }

  /** The pid of this user's running qemu-storage-daemon, checked against /proc (a reused pid is not ours). */
  async daemonPid(instance: string, user: string): Promise<number | undefined> {
    const text = await readFile(this.pidFile(instance, user), 'utf8').catch(() => '')
    const pid = Number.parseInt(text, 10)
    if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return undefined
    let cmdline = ''
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    } catch {
      return undefined
    }
    const { device } = this.paths(instance, user)
    return cmdline.includes('qemu-storage-daemon') && cmdline.includes(`mountpoint=${qemuValue(device)},`) ? pid : undefined
  }

  private async stopPid(pid: number): Promise<void> {
    await this.run('kill', ['-TERM', String(pid)]).catch(() => undefined)
    for (let i = 0; i < 100 && alive(pid); i++) await sleep(20)
    if (alive(pid)) await this.run('kill', ['-KILL', String(pid)]).catch(() => undefined)
    for (let i = 0; i < 50 && alive(pid); i++) await sleep(20)
  }
}

/** Whether `path` is a mount point (from /proc/self/mountinfo; octal escapes decoded). */
export function isMounted(path: string): boolean {
  let text = ''
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8')
  } catch {
    return false
  }
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4]
    if (field && field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))) === path) return true
  }
  return false
}
