/**
 * What must survive a restart (DHCP leases, per-user disks, CHAP accounts) goes through a
 * StateStore. The embedded default keeps one JSON document per key on local disk with crash-safe
 * writes. Several servers side by side need a shared implementation of this interface backed by an
 * existing database; none ships yet.
 */
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from './atomic-file.js'

export interface StateStore {
  /** The stored document, or undefined when there is none yet. */
  read<T>(key: string): Promise<T | undefined>
  /** Replace the document atomically. */
  write(key: string, value: unknown): Promise<void>
}

const KEY = /^[a-z0-9][a-z0-9._-]{0,127}$/

export class JsonFileStateStore implements StateStore {
  constructor(readonly dir: string) {}

  private file(key: string): string {
    if (!KEY.test(key)) throw new Error(`internal: bad state key ${JSON.stringify(key)}`)
    return join(this.dir, `${key}.json`)
  }

  async read<T>(key: string): Promise<T | undefined> {
    try {
      return JSON.parse(await readFile(this.file(key), 'utf8')) as T
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  }

  async write(key: string, value: unknown): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    await writeFileAtomic(this.file(key), JSON.stringify(value))
  }
}
