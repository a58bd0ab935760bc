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

interface Waiter<T> {
  readonly change: T
  readonly resolve: () => void
  readonly reject: (err: unknown) => void
}

/** `write` resolves with the changes it refused (if any); every other change of the batch is durable. */
// biome-ignore lint/suspicious/noConfusingVoidType: a plain write (Promise<void>) refuses nothing.
export function createGroupCommit<T>(write: (batch: readonly T[]) => Promise<void | ReadonlySet<T>>): GroupCommit<T> {
  const stats: GroupCommitStats = { commits: 0, committed: 0, failures: 0, largestBatch: 0 }
  let pending: Waiter<T>[] = []
  let running: Promise<void> | undefined

  const run = async (): Promise<void> => {
    while (pending.length > 0) {
      const batch = pending
      pending = []
      try {
        const refused = await write(batch.map((w) => w.change))
        stats.commits++
        stats.committed += batch.length - (refused?.size ?? 0)
        if (batch.length > stats.largestBatch) stats.largestBatch = batch.length
        for (const w of batch) {
          if (refused?.has(w.change)) w.reject(new RefusedChange())
          else w.resolve()
        }
      } catch (err) {
        stats.failures++
        for (const w of batch) w.reject(err)
      }
    }
    // Cleared in the same turn as the last look at `pending`: a submit after it starts a new run.
    running = undefined
  }

  return {
    stats,
    submit(change) {
      const done = new Promise<void>((resolve, reject) => pending.push({ change, resolve, reject }))
      if (!running) running = run()
      return done
    },
    async idle() {
      while (running) await running
    },
  }
}
