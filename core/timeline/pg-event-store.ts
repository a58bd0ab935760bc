/**
 * The timeline and the decision log in PostgreSQL, for replicas (`state.backend: postgres`):
 * recording only queues (a bounded queue per kind that drops its oldest and counts it), and a timer
 * writes each batch as one multi-row INSERT per table in one transaction, so /boot and DHCP never
 * wait for the database, and an outage costs at most `queueMax` events of memory. Batches insert
 * under the advisory lock `timeline/insert`, so row ids become visible in increasing order on every
 * replica (the SSE tail polls `id > last`, pg-timeline-reader.ts). A failed batch goes back in
 * front of its queue and is retried with a growing pause (to 5 s). Retention runs every
 * `retention.everyMs` on whichever replica takes `pg_try_advisory_xact_lock` first.
 */
import { messageOf } from '../errors/bp-error.js'
import { decisionJson } from '../log/decision-line.js'
import { scrubSecrets } from '../log/secret-registry.js'
import type { PostgresStateBackend, SqlTransaction, StateLog } from '../state/postgres-backend.js'
import { DropOldestQueue } from './drop-oldest-queue.js'
import { clean } from './event-fields.js'
import type { EventStoreSettings } from './event-store-settings.js'
import { TIMELINE_MIGRATIONS } from './timeline-migrations.js'
import type { EventSink, SummaryChange, TimelineEvent } from './timeline-types.js'

interface QueuedEvent {
  readonly machine: string
  readonly at: number
  readonly source: string
  readonly type: string
  readonly fields: string
  readonly change: string
}

/** A claim's move of this replica's `ip:` events onto a MAC, applied after the batch's inserts. */
interface QueuedMove {
  readonly from: string
  readonly to: string
  readonly since: number
  readonly ip: string
}

interface QueuedDecision {
  readonly at: number
  readonly reqId: string
  readonly record: string
}

const MAX_PAUSE_MS = 5000
// Every stored string is bounded and cleaned like event fields (jsonb refuses NUL) and scrubbed of
// registered secrets, as a log line is: the rows outlive the process and are read by other tools.
const cleanStrings = (_k: string, v: unknown): unknown => (typeof v === 'string' ? clean(scrubSecrets(v)) : v)

export class PgEventStore implements EventSink {
  private readonly events: DropOldestQueue<QueuedEvent>
  private readonly decisions: DropOldestQueue<QueuedDecision>
  private readonly timer: NodeJS.Timeout
  private readonly retentionTimer: NodeJS.Timeout
  private moves: QueuedMove[] = []
  private writing: Promise<void> | undefined
  private inFlight = { events: 0, decisions: 0 }
  private pauseMs = 0
  private retryAt = 0
  private failing = false
  private closed = false
  /** Rows written since the start, by table. */
  written = { events: 0, decisions: 0 }

  private constructor(
    private readonly db: PostgresStateBackend,
    readonly settings: EventStoreSettings,
    private readonly log?: StateLog,
    private readonly now: () => number = Date.now,
  ) {
    this.events = new DropOldestQueue(settings.queueMax)
    this.decisions = new DropOldestQueue(settings.queueMax)
    this.timer = setInterval(() => void this.tick(), settings.batchMs)
    this.timer.unref()
    this.retentionTimer = setInterval(() => void this.retain().catch(() => undefined), settings.retention.everyMs)
    this.retentionTimer.unref()
  }

  /** Applies the `timeline` migrations (or, with `state.migrate: manual`, requires them) and starts batching. */
  static async open(db: PostgresStateBackend, settings: EventStoreSettings, options: { log?: StateLog; now?: () => number } = {}): Promise<PgEventStore> {
    if (!db.registry.components().includes('timeline')) db.registry.register('timeline', TIMELINE_MIGRATIONS)
    if (db.cfg.migrate === 'auto') await db.migrate()
    return new PgEventStore(db, settings, options.log, options.now)
  }

  /** Events and decision records dropped because the queue was full (the database slow or away). */
  get dropped(): { events: number; decisions: number } {
    return { events: this.events.dropped, decisions: this.decisions.dropped }
  }

  /** Waiting to be written, the batch being written included. */
  get queued(): { events: number; decisions: number } {
    return { events: this.events.size + this.inFlight.events, decisions: this.decisions.size + this.inFlight.decisions }
  }

  event(machine: string, e: TimelineEvent, change: SummaryChange): void {
    if (this.closed) return
    this.events.push({ machine, at: e.at, source: e.source, type: e.type, fields: JSON.stringify(e.fields, cleanStrings), change: JSON.stringify(change, cleanStrings) })
    if (this.events.size >= this.settings.batchMax) void this.tick()
  }

  /**
   * Files the `ip:` events since `since` under the MAC, as the in-memory timeline just did: the
   * queued ones are rewritten now, the stored (or in-flight) ones by an UPDATE after the next
   * batch's inserts. Only this replica's rows: IP filing is per replica.
   */
  move(from: string, to: string, since: number, ip: string): void {
    if (this.closed) return
    this.events.rewrite((e) => (e.machine === from && e.at >= since ? { ...e, machine: to } : e))
    // Bounded like the queues: an outage with many claims keeps the newest moves.
    this.moves = [...this.moves.filter((m) => m.from !== from || m.to !== to), { from, to, since, ip }].slice(-this.settings.queueMax)
  }

  /**
   * Queues one decision record, serialized (and scrubbed) exactly as the decision log line; `text`
   * is that serialization when the log line was just written (decision-line.ts returns it).
   */
  decision(record: { readonly reqId: string } & object, text?: string): void {
    if (this.closed || !this.settings.decisions) return
    try {
      this.decisions.push({ at: this.now(), reqId: clean(String(record.reqId), 64), record: text ?? decisionJson(record) })
    } catch (err) {
      this.log?.error({ err: { message: messageOf(err) } }, 'decision record not stored')
    }
    if (this.decisions.size >= this.settings.batchMax) void this.tick()
  }

  /** Writes everything queued now, batch after batch; stops at the first failure (the rest stays queued). */
  async flush(): Promise<void> {
    this.retryAt = 0
    do await this.tick()
    while ((this.events.size > 0 || this.decisions.size > 0) && !this.failing)
  }

  /** Writes one batch of each queue (one write at a time; a failure puts the batch back). */
  private tick(): Promise<void> {
    if (this.writing) return this.writing
    if ((this.events.size === 0 && this.decisions.size === 0 && this.moves.length === 0) || this.now() < this.retryAt) return Promise.resolve()
    const events = this.events.take(this.settings.batchMax)
    const decisions = this.decisions.take(this.settings.batchMax)
    const moves = this.moves
    this.moves = []
    this.inFlight = { events: events.length, decisions: decisions.length }
    this.writing = this.db
      .transaction(
        async (tx) => {
          await this.insert(tx, events, decisions)
          for (const m of moves) await this.applyMove(tx, m)
        },
        { lock: 'timeline/insert' },
      )
      .then(
        () => {
          this.written.events += events.length
          this.written.decisions += decisions.length
          this.pauseMs = 0
          this.retryAt = 0
          if (this.failing) this.log?.warn({ queued: this.queued, dropped: this.dropped }, 'timeline events stored again')
          this.failing = false
          // A backlog is written batch after batch, not one batch per batchMs.
          if (this.events.size >= this.settings.batchMax || this.decisions.size >= this.settings.batchMax) setImmediate(() => void this.tick())
        },
        (err: unknown) => {
          this.events.unshift(events)
          this.decisions.unshift(decisions)
          this.moves = [...moves, ...this.moves].slice(-this.settings.queueMax)
          this.pauseMs = Math.min(MAX_PAUSE_MS, Math.max(this.settings.batchMs, this.pauseMs * 2))
          this.retryAt = this.now() + this.pauseMs
          if (!this.failing) this.log?.error({ err: { message: messageOf(err), code: (err as { code?: string }).code }, queued: this.queued }, 'timeline events not stored; queued')
          this.failing = true
        },
      )
      .finally(() => {
        this.writing = undefined
        this.inFlight = { events: 0, decisions: 0 }
      })
    return this.writing
  }

  private async insert(tx: SqlTransaction, events: readonly QueuedEvent[], decisions: readonly QueuedDecision[]): Promise<void> {
    const origin = this.db.origin
    if (events.length > 0) {
      await tx.query(
        `INSERT INTO bp_timeline_events (machine, at, source, type, fields, origin)
         SELECT m, a, s, ty, f::jsonb, $6 FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS u(m, a, s, ty, f, n) ORDER BY n`,
        [events.map((e) => e.machine), events.map((e) => e.at), events.map((e) => e.source), events.map((e) => e.type), events.map((e) => e.fields), origin],
      )
      // One row per machine per batch (ON CONFLICT may touch a row once): its changes merged in order.
      const machines = new Map<string, { first: number; last: number; change: Record<string, unknown> }>()
      for (const e of events) {
        const m = machines.get(e.machine) ?? { first: e.at, last: e.at, change: {} }
        m.first = Math.min(m.first, e.at)
        m.last = Math.max(m.last, e.at)
        Object.assign(m.change, JSON.parse(e.change) as Record<string, unknown>)
        machines.set(e.machine, m)
      }
      const rows = [...machines]
      await tx.query(
        `INSERT INTO bp_timeline_machines AS m (id, first_seen, last_seen, summary)
         SELECT i, f, l, d::jsonb FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[]) AS u(i, f, l, d)
         ON CONFLICT (id) DO UPDATE SET first_seen = least(m.first_seen, EXCLUDED.first_seen), last_seen = greatest(m.last_seen, EXCLUDED.last_seen),
           summary = jsonb_strip_nulls(m.summary || EXCLUDED.summary)`,
        [rows.map(([id]) => id), rows.map(([, m]) => m.first), rows.map(([, m]) => m.last), rows.map(([, m]) => JSON.stringify(m.change))],
      )
    }
    if (decisions.length > 0) {
      await tx.query(
        `INSERT INTO bp_decisions (at, req_id, origin, record)
         SELECT a, r, $4, d FROM unnest($1::bigint[], $2::text[], $3::text[]) WITH ORDINALITY AS u(a, r, d, n) ORDER BY n`,
        [decisions.map((d) => d.at), decisions.map((d) => d.reqId), decisions.map((d) => d.record), origin],
      )
    }
  }

  private async applyMove(tx: SqlTransaction, m: QueuedMove): Promise<void> {
    const moved = await tx.query<{ first: string | null }>(
      `WITH u AS (UPDATE bp_timeline_events SET machine = $2 WHERE machine = $1 AND at >= $3 AND origin = $4 RETURNING at) SELECT min(at) AS first FROM u`,
      [m.from, m.to, m.since, this.db.origin],
    )
    const first = moved.rows[0]?.first
    if (first === null || first === undefined) return
    // The MAC's row takes the address and the earlier first_seen (its own events may still be queued).
    await tx.query(
      `INSERT INTO bp_timeline_machines AS t (id, first_seen, last_seen, summary) VALUES ($1, $2, $2, jsonb_build_object('ip', $3::text))
       ON CONFLICT (id) DO UPDATE SET first_seen = least(t.first_seen, EXCLUDED.first_seen), summary = jsonb_build_object('ip', $3::text) || t.summary`,
      [m.to, Number(first), m.ip],
    )
    await tx.query('DELETE FROM bp_timeline_machines WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM bp_timeline_events WHERE machine = $1)', [m.from])
  }

  /**
   * Deletes rows older than `maxAgeMs` and beyond the row bounds, if no other replica is doing it
   * right now (undefined then). Resolves the rows deleted per table.
   */
  async retain(now = this.now()): Promise<{ events: number; decisions: number; machines: number } | undefined> {
    const r = this.settings.retention
    const cutoff = now - r.maxAgeMs
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query<{ got: boolean }>("SELECT pg_try_advisory_xact_lock(hashtextextended('timeline/retention', 0)) AS got", [])
      if (rows[0]?.got !== true) return undefined
      const count = async (sql: string, params: readonly unknown[]): Promise<number> => (await tx.query(sql, params)).rowCount
      const events =
        (await count('DELETE FROM bp_timeline_events WHERE at < $1', [cutoff])) +
        (await count('DELETE FROM bp_timeline_events WHERE id <= (SELECT id FROM bp_timeline_events ORDER BY id DESC OFFSET $1 LIMIT 1)', [r.maxEvents]))
      const decisions =
        (await count('DELETE FROM bp_decisions WHERE at < $1', [cutoff])) +
        (await count('DELETE FROM bp_decisions WHERE id <= (SELECT id FROM bp_decisions ORDER BY id DESC OFFSET $1 LIMIT 1)', [r.maxDecisions]))
      const machines =
        (await count('DELETE FROM bp_timeline_machines WHERE last_seen < $1', [cutoff])) +
        (await count('DELETE FROM bp_timeline_machines WHERE id IN (SELECT id FROM bp_timeline_machines ORDER BY last_seen DESC, id OFFSET $1)', [r.maxMachines]))
      return { events, decisions, machines }
    })
  }

  /** `/metrics` lines: rows dropped and waiting, by kind. */
  metricsText(): string {
    const d = this.dropped
    const q = this.queued
    return [
      '# HELP bootpolicy_timeline_store_dropped_total Timeline events and decision records dropped because the PostgreSQL queue was full',
      '# TYPE bootpolicy_timeline_store_dropped_total counter',
      `bootpolicy_timeline_store_dropped_total{what="event"} ${d.events}`,
      `bootpolicy_timeline_store_dropped_total{what="decision"} ${d.decisions}`,
      '# HELP bootpolicy_timeline_store_queued Timeline events and decision records waiting to be written to PostgreSQL',
      '# TYPE bootpolicy_timeline_store_queued gauge',
      `bootpolicy_timeline_store_queued{what="event"} ${q.events}`,
      `bootpolicy_timeline_store_queued{what="decision"} ${q.decisions}`,
      '',
    ].join('\n')
  }

  /** Stops the timers and writes what is queued, for at most `deadlineMs` (an absent database does not hold the close). */
  async close(deadlineMs = 5000): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.timer)
    clearInterval(this.retentionTimer)
    const end = Date.now() + deadlineMs
    await this.writing
    this.retryAt = 0
    this.failing = false
    do await this.tick()
    while ((this.events.size > 0 || this.decisions.size > 0) && Date.now() < end && !this.failing)
  }
}
