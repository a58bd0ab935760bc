/**
 * Serialization per key (one user's disk): in this process a promise chain per key, across
 * processes (the server and `bootpolicy iscsi reset`) a lock file created with O_EXCL that holds
 * the owner's pid. A lock whose owner is dead (kill -9) is taken over. Different keys run in parallel.
 * With a shared state backend (replicas on PostgreSQL) the cross-process lock is the backend's
 * `withLock` (an advisory lock, released by the database when its holder dies) instead of the file.
 */
import { mkdirSync } from 'node:fs'
import { open, readFile, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { KeyedMutex, type StateBackend } from 'bootpolicy/plugin'
import { errors } from './errors.js'

// The in-process half is core's (bootpolicy/plugin); re-exported for this plugin's modules.
export { KeyedMutex }

export class FileLocks {
  constructor(
    private readonly dir: string,
    private readonly timeoutMs: number,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
  }

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const file = join(this.dir, `${key.replace(/[^A-Za-z0-9._-]/g, '_')}.lock`)
    await this.acquire(file, key)
    try {
      return await fn()
    } finally {
      await unlink(file).catch(() => undefined)
    }
  }

  private async acquire(file: string, key: string): Promise<void> {
    const deadline = Date.now() + this.timeoutMs
    for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
      try {
        const fh = await open(file, 'wx', 0o600)
        await fh.writeFile(`${process.pid}\n`)
        await fh.close()
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
      const owner = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10)
      // A lock file without a pid yet is being written: wait. One whose owner is gone is stale.
      if (Number.isInteger(owner) && owner > 0 && !alive(owner)) {
        await unlink(file).catch(() => undefined)
        continue
      }
      if (Date.now() > deadline) throw errors.create('BP_ERR_ISCSI_BUSY', { key, owner: Number.isInteger(owner) ? owner : 'unknown', timeoutMs: this.timeoutMs })
      await sleep(wait)
    }
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** In-process order first, then the file lock: waiters of this process do not poll the file. */
export class KeyLocks {
  private readonly local = new KeyedMutex()
  private readonly files: FileLocks

  constructor(
    dir: string,
    timeoutMs: number,
    private readonly shared?: StateBackend,
  ) {
    this.files = new FileLocks(dir, timeoutMs)
  }

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const shared = this.shared
    if (shared) return this.local.run(key, () => shared.withLock(`iscsi-cow/lock/${key.toLowerCase()}`, fn))
    return this.local.run(key, () => this.files.run(key, fn))
  }
}
