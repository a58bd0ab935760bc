/**
 * The lease file as an append-only journal (ISC dhcpd's approach): line 1 is `{"version":3}`,
 * then batches: lease record lines (a later line for the same address or client replacing an
 * earlier one), each batch closed by a commit line `{"commit":<records>,"crc32":<crc of the
 * batch's record lines>}`. A commit appends its batch and calls fdatasync once, so one disk flush
 * covers a whole group of ACKs and the write is as small as the batch. Now and then (and at every
 * start) the journal is compacted: the live state is written to a temp file, fsynced and renamed
 * over it (atomic-file.ts).
 *
 * After a power loss the unflushed tail can be anything (zeros, half a batch, complete-looking
 * lines): it was never acknowledged, because the next batch is written only after the previous
 * one's fdatasync. So load keeps the committed batches and cuts whatever follows the last one; a
 * broken batch followed by a committed one is damage to acknowledged data and refuses the load.
 */
import { open, readFile, type FileHandle } from 'node:fs/promises'
import { crc32 } from 'node:zlib'
import { writeFileAtomic } from '../state/atomic-file.js'
import type { Lease } from './lease-store.js'

export const JOURNAL_VERSION = 3
const HEADER = `${JSON.stringify({ version: JOURNAL_VERSION })}\n`

/** The batch text (record lines) followed by its commit line. */
export function batchText(records: readonly unknown[]): string {
  let body = ''
  for (const r of records) body += `${JSON.stringify(r)}\n`
  return `${body}${JSON.stringify({ commit: records.length, crc32: crc32(body) })}\n`
}

/** Compact once more lines were appended than this many times the live leases (and at least 4,096). */
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
  if (header?.version === 2) return versionTwo(raw.slice(firstEnd + 1))
  if (header?.version !== JOURNAL_VERSION) throw new JournalFormatError(`expected {"version":${JOURNAL_VERSION}} on line 1`)
  return committedBatches(firstEnd === -1 ? '' : raw.slice(firstEnd + 1))
}

/** The records of the committed batches; the uncommitted tail is cut. */
function committedBatches(text: string): unknown[] {
  const lines = text.split('\n')
  lines.pop() // the text after the last newline: empty, or a torn line
  const records: unknown[] = []
  let pending: string[] = []
  let pendingText = ''
  let brokenAt = -1 // first line of a batch whose commit line was missing or wrong
  let batchStart = 0
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const marker = commitOf(line)
    if (marker === undefined) {
      pending.push(line)
      pendingText += `${line}\n`
      continue
    }
    if (marker.commit === pending.length && marker.crc32 === crc32(pendingText)) {
      if (brokenAt !== -1) throw new JournalFormatError(`line ${brokenAt + 2} is damaged but a later batch is committed`)
      for (const p of pending) records.push(parseRecord(p, batchStart))
    } else if (brokenAt === -1) {
      brokenAt = batchStart
    }
    pending = []
    pendingText = ''
    batchStart = i + 1
  }
  return records
}

function parseRecord(line: string, at: number): unknown {
  try {
    return JSON.parse(line)
  } catch {
    throw new JournalFormatError(`line ${at + 2}: a committed batch holds a line that is not JSON`)
  }
}

function commitOf(line: string): { commit: unknown; crc32: unknown } | undefined {
  if (!line.startsWith('{"commit":')) return undefined
  try {
    const m = JSON.parse(line) as { commit?: unknown; crc32?: unknown }
    return m !== null && typeof m === 'object' ? { commit: m.commit, crc32: m.crc32 } : undefined
  } catch {
    return undefined
  }
}

/** Version 2 (no commit lines): only an unterminated last line can be an interrupted append. */
function versionTwo(text: string): unknown[] {
  const lines = text.split('\n')
  const records: unknown[] = []
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (line === '') continue
    try {
      records.push(JSON.parse(line))
    } catch {
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
  /** Lines appended since the last compaction, and the live leases it wrote (no O(pool) copy per batch). */
  private lines = 0
  private liveAtCompact = 0
  /** Set when an append failed: the file may end in a partial line, so the next write compacts. */
  private damaged = false
  /** Appends and compactions that reached the disk (metrics). */
  flushes = 0

  constructor(private readonly file: string) {}

  /** Appends `records` and flushes them with one fdatasync; compacts instead when due or damaged. */
  async append(records: readonly Lease[], live: () => Lease[]): Promise<void> {
    if (!this.fh || this.damaged || this.lines > Math.max(COMPACT_MIN, (COMPACT_FACTOR - 1) * this.liveAtCompact)) {
      await this.compact(live())
      return
    }
    try {
      await writeAll(this.fh, Buffer.from(batchText(records)))
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
    await writeFileAtomic(this.file, HEADER + batchText(leases))
    await this.closeHandle()
    this.fh = await open(this.file, 'a')
    this.lines = 0
    this.liveAtCompact = leases.length
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
