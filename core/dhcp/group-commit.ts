/**
 * Group commit for lease changes. A change submitted while no write runs starts one at once; every
 * change submitted while a write is in flight joins the next write, so one fsync covers a whole
 * burst of ACKs. Each submit resolves only once the write holding ITS change has succeeded, and
 * rejects when that write failed: the caller sends the ACK after the promise resolves, never
 * before. Backend-neutral: the write is whatever makes a batch durable (a journal append plus
 * fdatasync, a database transaction). A shared store may refuse single changes of a batch that it
 * stored otherwise (another replica bound the address first): their submits reject with
 * RefusedChange, the others resolve.
 */
import { createCallBatcher } from './call-batcher.js'

export interface GroupCommitStats {
  /** Writes that succeeded. */
  commits: number
  /** Changes made durable by them. */
  committed: number
  /** Writes that failed (their changes were not acknowledged). */
  failures: number
  /** Largest batch written at once. */
  largestBatch: number
}

export interface GroupCommit<T> {
  /** Resolves once `change` is durable; rejects with the write's error when its write failed. */
  submit(change: T): Promise<void>
  /** Resolves once nothing is pending or being written. */
  idle(): Promise<void>
  readonly stats: Readonly<GroupCommitStats>
}

/** The store kept the rest of the batch but not this change (its address is another client's). */
export class RefusedChange extends Error {
  constructor() {
    super('lease change refused by the store: the address is held by another client')
    this.name = 'RefusedChange'
  }
}

/** `write` resolves with the changes it refused (if any); every other change of the batch is durable. */
// biome-ignore lint/suspicious/noConfusingVoidType: a plain write (Promise<void>) refuses nothing.
export function createGroupCommit<T>(write: (batch: readonly T[]) => Promise<void | ReadonlySet<T>>): GroupCommit<T> {
  const stats: GroupCommitStats = { commits: 0, committed: 0, failures: 0, largestBatch: 0 }
  const writes = createCallBatcher<T, boolean>(async (batch) => {
    let refused: ReadonlySet<T> | undefined
    try {
      refused = (await write(batch)) ?? undefined
    } catch (err) {
      stats.failures++
      throw err
    }
    stats.commits++
    stats.committed += batch.length - (refused?.size ?? 0)
    if (batch.length > stats.largestBatch) stats.largestBatch = batch.length
    return batch.map((c) => !refused?.has(c))
  })
  return {
    stats,
    async submit(change) {
      if (!(await writes.submit(change))) throw new RefusedChange()
    },
    idle: () => writes.idle(),
  }
}
