/**
 * `timeline.postgres` (docs/reference/timeline.md#with-postgresql): how the PostgreSQL event store
 * batches, how much it may hold while the database is away, and how long rows are kept.
 */
export interface EventStoreSettings {
  /** How often queued events and decision records are written (one INSERT per table per batch). */
  readonly batchMs: number
  /** Rows per batch at most; a full batch is written at once. */
  readonly batchMax: number
  /** Events (and, separately, decision records) waiting at most; beyond it the oldest is dropped and counted. */
  readonly queueMax: number
  /** How often the SSE tail asks the database for new rows while a client listens. */
  readonly pollMs: number
  /** Whether decision records are stored too (the log line is written either way). */
  readonly decisions: boolean
  readonly retention: {
    /** How often one replica (under an advisory lock) deletes what is past the bounds below. */
    readonly everyMs: number
    readonly maxAgeMs: number
    readonly maxEvents: number
    readonly maxDecisions: number
    readonly maxMachines: number
  }
}
