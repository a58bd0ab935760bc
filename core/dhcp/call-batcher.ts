/**
 * Calls that share one round trip. An item submitted while no call runs starts one at once; every
 * item submitted while a call is in flight joins the next call, so a burst costs a few calls, not
 * one per item. One call at a time: a burst on a busy store grows the next batch instead of the
 * number of open transactions. Each submit settles with its own result once the call holding its
 * item has returned, and rejects with the call's error when that call failed (later items go into
 * the next call). Used by the lease group commit (group-commit.ts) and by the PostgreSQL lease
 * backend's DISCOVERs (one bp_dhcp_offer_many per batch).
 */
export interface CallBatcher<T, R> {
  /** Resolves with this item's result from the call that carried it. */
  submit(item: T): Promise<R>
  /** Resolves once nothing is pending or being called. */
  idle(): Promise<void>
}

interface Waiter<T, R> {
  readonly item: T
  readonly resolve: (result: R) => void
  readonly reject: (err: unknown) => void
}

/** `call` returns one result per item, in the batch's order; a batch holds at most `maxBatch` items. */
export function createCallBatcher<T, R>(call: (batch: readonly T[]) => Promise<readonly R[]>, maxBatch = Number.POSITIVE_INFINITY): CallBatcher<T, R> {
  let pending: Waiter<T, R>[] = []
  let running: Promise<void> | undefined

  const run = async (): Promise<void> => {
    while (pending.length > 0) {
      const batch = pending.length > maxBatch ? pending.splice(0, maxBatch) : pending
      if (batch === pending) pending = []
      try {
        const results = await call(batch.map((w) => w.item))
        if (results.length !== batch.length) throw new Error(`batched call returned ${results.length} results for ${batch.length} items`)
        batch.forEach((w, i) => w.resolve(results[i] as R))
      } catch (err) {
        for (const w of batch) w.reject(err)
      }
    }
    // Cleared in the same turn as the last look at `pending`: a submit after it starts a new run.
    running = undefined
  }

  return {
    submit(item) {
      const done = new Promise<R>((resolve, reject) => pending.push({ item, resolve, reject }))
      if (!running) running = run()
      return done
    },
    async idle() {
      while (running) await running
    },
  }
}
