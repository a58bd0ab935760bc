/**
 * The dm-snapshot backend (seed 000's mktgt): the base attached read-only to a loop device, the
 * user's sparse overlay file (same size as the base) to another, and a device-mapper snapshot
 * `0 <sectors> snapshot <base-loop> <overlay-loop> P 8` (persistent, 4 KiB chunks) at
 * /dev/mapper/<instance>-<user>. Needs /dev/mapper/control, losetup, blockdev and dmsetup.
 * The base loop device is shared by all users of an image (`--nooverlap`) and is never detached here.
 */
import { mkdirSync } from 'node:fs'
import { open, rename, stat, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { CowBackend, DiskPaths } from './cow-backend.js'
import type { Runner } from './exec.js'

export interface DmSnapshotOptions {
  readonly dataDir: string
  /** For tests: whether a path exists (the /dev/mapper node). */
  readonly exists?: (path: string) => Promise<boolean>
}

export class DmSnapshotBackend implements CowBackend {
  readonly name = 'dm-snapshot' as const
  private readonly exists: (path: string) => Promise<boolean>

  constructor(
    private readonly run: Runner,
    private readonly options: DmSnapshotOptions,
  ) {
    this.exists =
      options.exists ??
      (async (p) =>
        stat(p).then(
          () => true,
          () => false,
        ))
  }

  dmName(instance: string, user: string): string {
    return `${instance}-${user}`
  }

  paths(instance: string, user: string): DiskPaths {
    return {
      overlay: join(this.options.dataDir, 'overlays', instance, `${user}.cow`),
      device: `/dev/mapper/${this.dmName(instance, user)}`,
    }
  }

  /** A sparse file of the base's size: no data blocks until the user writes. */
  async createOverlay(base: string, overlay: string): Promise<void> {
    mkdirSync(dirname(overlay), { recursive: true, mode: 0o700 })
    const size = await this.sizeOf(base)
    const tmp = `${overlay}.tmp-${process.pid}`
    const fh = await open(tmp, 'w', 0o600)
    try {
      await fh.truncate(size)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, overlay)
  }

  async ensureDevice(instance: string, user: string, base: string): Promise<{ started: boolean }> {
    const { overlay, device } = this.paths(instance, user)
    if (await this.exists(device)) return { started: false }
    const baseLoop = (await this.run('losetup', ['--show', '--read-only', '--nooverlap', '--find', base])).stdout.trim()
    const sectors = (await this.run('blockdev', ['--getsz', baseLoop])).stdout.trim()
    const overLoop = (await this.run('losetup', ['--show', '--nooverlap', '--find', overlay])).stdout.trim()
    await this.run('dmsetup', ['create', this.dmName(instance, user), '--table', `0 ${sectors} snapshot ${baseLoop} ${overLoop} P 8`])
    return { started: true }
  }

  deviceUp(instance: string, user: string): Promise<boolean> {
    return this.exists(this.paths(instance, user).device)
  }

  async removeDevice(instance: string, user: string): Promise<void> {
    const { overlay, device } = this.paths(instance, user)
    if (await this.exists(device)) await this.run('dmsetup', ['remove', this.dmName(instance, user)])
    // `losetup -j FILE` lists the loop devices attached to the overlay: `/dev/loop3: []: (/path)`.
    const attached = (await this.run('losetup', ['-j', overlay])).stdout
    for (const line of attached.split('\n')) {
      const loop = /^(\/dev\/loop\d+):/.exec(line)?.[1]
      if (loop) await this.run('losetup', ['-d', loop])
    }
  }

  async overlayBytes(overlay: string): Promise<number> {
    return (await stat(overlay)).blocks * 512
  }

  private async sizeOf(base: string): Promise<number> {
    const st = await stat(base)
    if (st.isFile()) return st.size
    return Number((await this.run('blockdev', ['--getsize64', base])).stdout.trim())
  }
}

export async function removeFile(path: string): Promise<void> {
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err
  })
}
