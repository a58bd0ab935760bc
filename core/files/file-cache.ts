/**
 * A bounded in-memory cache of whole boot files (kernels, initrds, iPXE binaries), keyed by the
 * inode that was opened and checked.
 *
 * Why: Node has no sendfile. Streaming a file costs a disk read into a fresh buffer and a copy to
 * the socket per chunk, per client; 200 clients downloading the same 32 MiB initrd did that 200
 * times. Served from one Buffer, every response is a single socket write of a slice that the
 * kernel drains (bench/http-files.ts: 0.65× → ~0.95× nginx's aggregate).
 *
 * Safety: the caller opens and verifies the file first (open-safe-file.ts) and hands the open
 * handle and its fstat here; the cache never opens anything by name. An entry is used only while
 * the inode's size, mtime and ctime are those the caller just saw, so a file rewritten in place (or
 * replaced: another inode) is read again. A file changed while it is being read is served to that
 * one request (as a stream would have been) but not kept.
 * Limits: `maxBytes` in all, `maxFileBytes` per file (larger files are not cached: the caller
 * streams them); least recently used entries go first. A Buffer evicted while responses still send
 * it stays alive until they finish, so memory can briefly exceed `maxBytes` by what is in flight.
 */
import type { Stats } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'

export interface FileCacheLimits {
  /** Bytes held in all; 0 turns the cache off. */
  readonly maxBytes: number
  /** Largest file kept. */
  readonly maxFileBytes: number
  /** Hold bytes in SharedArrayBuffers, so that worker threads get them without a copy (TFTP). */
  readonly shared?: boolean
}

export interface FileCacheStats {
  entries: number
  bytes: number
  hits: number
  misses: number
}

export interface FileCache {
  /**
   * The file's bytes, from memory or read once from `handle` (concurrent misses share one read).
   * `undefined`: not cacheable (too large, cache off, or it changed while read and the read was
   * short); the caller streams from its handle. The caller still owns and closes `handle`.
   */
  read(handle: FileHandle, stat: Stats): Promise<Buffer | undefined>
  stats(): FileCacheStats
}

interface Entry {
  readonly identity: string
  readonly size: number
  /** Pending while the first reader fills it; later readers of the same identity wait on it. */
  readonly data: Promise<Buffer | undefined>
  settled: boolean
}

const identityOf = (s: Stats) => `${s.size}:${s.mtimeMs}:${s.ctimeMs}`

export function createFileCache(limits: FileCacheLimits): FileCache {
  // Map order is the LRU order: a hit is deleted and set again at the end.
  const entries = new Map<string, Entry>()
  let bytes = 0
  let hits = 0
  let misses = 0

  function drop(key: string, entry: Entry): void {
    if (entries.get(key) !== entry) return
    entries.delete(key)
    if (entry.settled) bytes -= entry.size
  }

  function makeRoom(size: number): void {
    for (const [key, entry] of entries) {
      if (bytes + size <= limits.maxBytes) return
      if (entry.settled) drop(key, entry)
    }
  }

  return {
    async read(handle, stat) {
      if (limits.maxBytes === 0 || stat.size > limits.maxFileBytes || stat.size > limits.maxBytes) return undefined
      const key = `${stat.dev}:${stat.ino}`
      const identity = identityOf(stat)
      const found = entries.get(key)
      if (found && found.identity === identity) {
        hits++
        entries.delete(key)
        entries.set(key, found)
        return found.data
      }
      if (found) drop(key, found)
      misses++
      const entry: Entry = { identity, size: stat.size, settled: false, data: readWhole(handle, stat.size, limits.shared === true).catch(() => undefined) }
      entries.set(key, entry)
      const data = await entry.data
      const after = await handle.stat().catch(() => undefined)
      if (!data || !after || identityOf(after) !== identity) {
        // Changed under the read (or the read failed): not kept; waiters got what this read saw.
        if (entries.get(key) === entry) entries.delete(key)
        return data
      }
      if (entries.get(key) === entry) {
        makeRoom(entry.size)
        entry.settled = true
        bytes += entry.size
      }
      return data
    },
    stats: () => ({ entries: entries.size, bytes, hits, misses }),
  }
}

/** Read exactly `size` bytes from the start; `undefined` if the file got shorter meanwhile. */
async function readWhole(handle: FileHandle, size: number, shared: boolean): Promise<Buffer | undefined> {
  const buffer = shared ? Buffer.from(new SharedArrayBuffer(size)) : Buffer.allocUnsafe(size)
  let offset = 0
  while (offset < size) {
    const { bytesRead } = await handle.read(buffer, offset, size - offset, offset)
    if (bytesRead === 0) return undefined
    offset += bytesRead
  }
  return buffer
}
