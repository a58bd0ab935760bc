/**
 * The files state backend: today's single-server behaviour behind the StateBackend interface.
 * Documents are JSON files under the state directory (crash-safe writes, atomic-file.ts); versions,
 * locks, notifications and counters live in this process only. That is exact for one server; it
 * shares nothing with other processes (several replicas need the PostgreSQL backend).
 */
import { mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from './atomic-file.js'
import { KeyedMutex } from './key-mutex.js'
import { type CounterWindow, checkChannel, checkKey, checkPayload, checkWindow, DOCUMENT_CHANNEL, type StateBackend, type StateListener, type VersionedDocument } from './state-backend.js'

export class FileStateBackend implements StateBackend {
  readonly kind = 'files' as const
  private readonly versions = new Map<string, number>()
  private readonly mutex = new KeyedMutex()
  /** Writes of one key go one after the other, so that a version is never handed out twice. */
  private readonly writes = new KeyedMutex()
  private readonly listeners = new Map<string, Set<StateListener>>()
  private readonly counters = new Map<string, CounterWindow>()

  constructor(
    readonly dir: string,
    private readonly now: () => number = Date.now,
  ) {}

  private file(key: string): string {
    // Keys allowed by checkKey map one to one onto file names (':' and '/' encoded).
    return join(this.dir, `${encodeURIComponent(checkKey(key))}.json`)
  }

  async read<T>(key: string): Promise<T | undefined> {
    return (await this.get<T>(key))?.value
  }

  /**
   * The version is taken before the file is read: a write landing during the read can only make the
   * text newer than that version, so a compare-and-set on it fails and retries. Taken after the
   * read, it could pair the old text with the new version, and a compare-and-set on that pair
   * would overwrite the write (a lost update, seen as 39 of 40 parallel increments).
   */
  async get<T>(key: string): Promise<VersionedDocument<T> | undefined> {
    const known = this.versions.get(key)
    if (known !== undefined) return this.readAt<T>(key, known)
    // First sight of the key in this process: read it in line with its writes. A file written
    // before this process started is version 1 to it.
    return this.writes.run(key, async () => {
      const doc = await this.readAt<T>(key, this.versions.get(key) ?? 1)
      if (doc && !this.versions.has(key)) this.versions.set(key, doc.version)
      return doc
    })
  }

  private async readAt<T>(key: string, version: number): Promise<VersionedDocument<T> | undefined> {
    let text: string
    try {
      text = await readFile(this.file(key), 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    return { value: JSON.parse(text) as T, version }
  }

  async write(key: string, value: unknown): Promise<void> {
    const file = this.file(key)
    await this.writes.run(key, async () => {
      await mkdir(this.dir, { recursive: true })
      await writeFileAtomic(file, JSON.stringify(value))
      this.versions.set(key, (await this.currentVersion(key, true)) + 1)
    })
    this.emit(DOCUMENT_CHANNEL, key)
  }

  async compareAndSet(key: string, expected: number, value: unknown): Promise<number | undefined> {
    const file = this.file(key)
    const version = await this.writes.run(key, async () => {
      const current = await this.currentVersion(key, false)
      if (current !== expected) return undefined
      await mkdir(this.dir, { recursive: true })
      await writeFileAtomic(file, JSON.stringify(value))
      this.versions.set(key, current + 1)
      return current + 1
    })
    if (version !== undefined) this.emit(DOCUMENT_CHANNEL, key)
    return version
  }

  async delete(key: string): Promise<void> {
    const file = this.file(key)
    await this.writes.run(key, async () => {
      await rm(file, { force: true })
      this.versions.delete(key)
    })
    this.emit(DOCUMENT_CHANNEL, key)
  }

  async keys(prefix: string): Promise<string[]> {
    let names: string[]
    try {
      names = await readdir(this.dir)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
    return names
      .filter((n) => n.endsWith('.json'))
      .map((n) => decodeURIComponent(n.slice(0, -5)))
      .filter((k) => k.startsWith(prefix))
      .sort()
  }

  /** The version on disk as this process knows it (0: no file). */
  private async currentVersion(key: string, afterWrite: boolean): Promise<number> {
    const known = this.versions.get(key)
    if (known !== undefined) return known
    if (afterWrite) return 0
    try {
      await readFile(this.file(key))
      this.versions.set(key, 1)
      return 1
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0
      throw err
    }
  }

  withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.mutex.run(checkKey(key), fn)
  }

  async publish(channel: string, payload: string): Promise<void> {
    this.emit(checkChannel(channel), checkPayload(payload))
  }

  subscribe(channel: string, listener: StateListener): () => void {
    let set = this.listeners.get(checkChannel(channel))
    if (!set) this.listeners.set(channel, (set = new Set()))
    set.add(listener)
    return () => set.delete(listener)
  }

  private emit(channel: string, payload: string): void {
    for (const l of this.listeners.get(channel) ?? []) {
      try {
        l(payload)
      } catch {
        // A listener's failure is its own; the others still hear the change.
      }
    }
  }

  // No await between reading and writing a window: parallel adds each see their own count.
  async addToCounter(key: string, delta: number, windowMs: number): Promise<CounterWindow> {
    checkWindow(delta, windowMs)
    const live = this.liveCounter(key)
    const next = live ? { count: live.count + delta, resetAt: live.resetAt } : { count: delta, resetAt: this.now() + windowMs }
    this.counters.set(key, next)
    return next
  }

  async readCounter(key: string): Promise<CounterWindow | undefined> {
    return this.liveCounter(key)
  }

  private liveCounter(key: string): CounterWindow | undefined {
    const w = this.counters.get(checkKey(key))
    if (w && w.resetAt <= this.now()) {
      this.counters.delete(key)
      return undefined
    }
    return w
  }

  async resetCounter(key: string): Promise<void> {
    this.counters.delete(checkKey(key))
  }

  async close(): Promise<void> {
    this.listeners.clear()
  }
}
