/**
 * The lease file as an append-only journal (ISC dhcpd's approach): line 1 is `{"version":2}`,
 * every further line one lease record, a later line for the same address or client replacing an
 * earlier one. A commit appends its batch and calls fdatasync once, so one disk flush covers a
 * whole group of ACKs and the write is as small as the batch. Now and then (and at every start)
 * the journal is compacted: the live state is written to a temp file, fsynced and renamed over
 * it (atomic-file.ts). A crash mid-append leaves at most a torn last line, which was never
 * acknowledged and is skipped on load; a damaged line anywhere else refuses the load.
 */
import { open, readFile, type FileHandle } from 'node:fs/promises'
import { writeFileAtomic } from '../state/atomic-file.js'
import type { Lease } from './lease-store.js'

export const JOURNAL_VERSION = 2
const HEADER = `${JSON.stringify({ version: JOURNAL_VERSION })}\n`

/** Compact once the journal holds this many lines beyond the live leases (and at least 4,096). */
const COMPACT_FACTOR = 4
const COMPACT_MIN = 4096

export class JournalFormatError extends Error {}

/**
 * Reads the records of a lease file, oldest first; undefined when there is none. Also reads the
 * version-1 snapshot (`{"version":1,"leases":[...]}`) that earlier releases wrote.
 */
export async function readJournal(file: string): Promise<unknown[] | undefined> {
  let raw: string
  try {
    raw = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const firstEnd = raw.indexOf('\n')
  const first = firstEnd === -1 ? raw : raw.slice(0, firstEnd)
  let header: { version?: unknown; leases?: unknown }
  try {
    header = JSON.parse(first) as typeof header
  } catch {
    // A version-1 file may be pretty-printed across lines: try the whole text.
    return versionOne(raw)
  }
  if (header?.version === 1) return versionOne(raw)
  if (header?.version !== JOURNAL_VERSION) throw new JournalFormatError(`expected {"version":${JOURNAL_VERSION}} on line 1`)
  const lines = raw.slice(firstEnd + 1).split('\n')
  const records: unknown[] = []
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (line === '') continue
    try {
      records.push(JSON.parse(line))
    } catch {
      // Only an unterminated last line can be an interrupted append (never acknowledged).
      if (i === lines.length - 1) break
      throw new JournalFormatError(`line ${i + 2} is not a JSON lease record`)
    }
  }
  return records
}

/**
 * write(2) may write less than asked without failing (a disk that fills up mid-write): keep
 * writing the rest, so that the error (ENOSPC) surfaces instead of a silently cut batch.
 */
async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  let off = 0
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off)
    if (bytesWritten <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' })
    off += bytesWritten
  }
}

function versionOne(raw: string): unknown[] {
  let parsed: { version?: unknown; leases?: unknown }
  try {
    parsed = JSON.parse(raw) as typeof parsed
  } catch (err) {
    throw new JournalFormatError((err as Error).message)
  }
  if (parsed?.version !== 1 || !Array.isArray(parsed.leases)) throw new JournalFormatError(`expected {"version":${JOURNAL_VERSION}} on line 1`)
  return parsed.leases
}

/** The open journal: appends batches, compacts when it has grown. One caller at a time (group commit). */
export class LeaseJournal {
  private fh: FileHandle | undefined
  private lines = 0
  /** Set when an append failed: the file may end in a partial line, so the next write compacts. */
  private damaged = false
  /** Appends and compactions that reached the disk (metrics). */
  flushes = 0

  constructor(private readonly file: string) {}

  /** Appends `records` and flushes them with one fdatasync; compacts instead when due or damaged. */
  async append(records: readonly Lease[], live: () => Lease[]): Promise<void> {
    if (!this.fh || this.damaged || this.lines > Math.max(COMPACT_MIN, COMPACT_FACTOR * live().length)) {
      await this.compact(live())
      return
    }
    let body = ''
    for (const r of records) body += `${JSON.stringify(r)}\n`
    try {
      await writeAll(this.fh, Buffer.from(body))
      await this.fh.datasync()
    } catch (err) {
      this.damaged = true
      throw err
    }
    this.lines += records.length
    this.flushes++
  }

  /** Replaces the file with `leases` atomically and reopens it for appending. */
  async compact(leases: readonly Lease[]): Promise<void> {
    this.damaged = true // until the new file is in place and open
    let body = HEADER
    for (const l of leases) body += `${JSON.stringify(l)}\n`
    await writeFileAtomic(this.file, body)
    await this.closeHandle()
    this.fh = await open(this.file, 'a')
    this.lines = leases.length
    this.damaged = false
    this.flushes++
  }

  async close(): Promise<void> {
    await this.closeHandle()
  }

  private async closeHandle(): Promise<void> {
    const fh = this.fh
    this.fh = undefined
    await fh?.close().catch(() => undefined)
  }
}
