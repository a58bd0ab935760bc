/**
 * The shared timeline as /api/machines reads it with `state.backend: postgres`: the machine rows
 * and events every replica stored (pg-event-store.ts). An event's `seq` is its row id, increasing
 * across replicas. The live tail polls `id > last` every `pollMs` while at least one client
 * listens (one query per replica, whatever the number of clients): an event reaches the tail of
 * every replica within about batchMs + pollMs of being recorded.
 */
import type { PostgresStateBackend } from '../state/postgres-backend.js'
import { machineState } from './machine-state.js'
import type { EventPage, MachineView, TimelineReader } from './timeline-reader.js'
import type { EventSource, MachineSummary, TimelineEvent } from './timeline-types.js'
import type { Listener } from './timeline.js'

interface EventRow extends Record<string, unknown> {
  id: string
  machine: string
  at: string
  source: EventSource
  type: string
  fields: Record<string, string | number | boolean>
}

interface MachineRow extends Record<string, unknown> {
  id: string
  first_seen: string
  last_seen: string
  summary: Omit<MachineSummary, 'id' | 'firstSeen' | 'lastSeen'>
}

/** Rows per poll; a full page polls again at once. */
const TAIL_PAGE = 1000
const MACHINE_COLUMNS = 'id, first_seen, last_seen, jsonb_strip_nulls(summary) AS summary'

export class PgTimelineReader implements TimelineReader {
  private readonly listeners = new Set<Listener>()
  private cursor: number | undefined
  private timer: NodeJS.Timeout | undefined
  private polling = false

  constructor(
    private readonly db: PostgresStateBackend,
    private readonly options: { readonly stuckAfterMs: number; readonly pollMs: number; readonly now?: () => number },
  ) {}

  async machines(page: { limit: number; offset: number }): Promise<{ total: number; machines: MachineView[] }> {
    const [{ rows: count }, { rows }] = await Promise.all([
      this.db.query<{ n: string }>('SELECT count(*) AS n FROM bp_timeline_machines', []),
      this.db.query<MachineRow>(`SELECT ${MACHINE_COLUMNS} FROM bp_timeline_machines ORDER BY last_seen DESC, id LIMIT $1 OFFSET $2`, [page.limit, page.offset]),
    ])
    return { total: Number(count[0]?.n ?? 0), machines: rows.map((r) => this.view(r)) }
  }

  async events(id: string, page: { after?: number; limit: number }): Promise<EventPage | undefined> {
    const { rows: m } = await this.db.query<MachineRow>(`SELECT ${MACHINE_COLUMNS} FROM bp_timeline_machines WHERE id = $1`, [id])
    if (!m[0]) return undefined
    const { rows } = await this.db.query<EventRow>('SELECT id, machine, at, source, type, fields FROM bp_timeline_events WHERE machine = $1 AND id > $2 ORDER BY id LIMIT $3', [
      id,
      page.after ?? 0,
      page.limit + 1,
    ])
    const events = rows.slice(0, page.limit).map(eventOf)
    return { machine: this.view(m[0]), events, ...(rows.length > page.limit && { next: events[events.length - 1]!.seq }) }
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener)
    if (!this.timer && !this.polling) this.schedule(0)
    return () => {
      this.listeners.delete(listener)
      if (this.listeners.size === 0) this.stop()
    }
  }

  close(): void {
    this.listeners.clear()
    this.stop()
  }

  private stop(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.cursor = undefined
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => void this.poll(), ms)
    this.timer.unref()
  }

  private async poll(): Promise<void> {
    this.timer = undefined
    if (this.listeners.size === 0) return
    this.polling = true
    let full = false
    try {
      // The first poll of a tail only finds where "now" is: a tail shows what comes after it connects.
      if (this.cursor === undefined) {
        const { rows } = await this.db.query<{ id: string | null }>('SELECT max(id) AS id FROM bp_timeline_events', [])
        this.cursor = Number(rows[0]?.id ?? 0)
      } else {
        const { rows } = await this.db.query<EventRow>('SELECT id, machine, at, source, type, fields FROM bp_timeline_events WHERE id > $1 ORDER BY id LIMIT $2', [this.cursor, TAIL_PAGE])
        for (const r of rows) {
          const e = eventOf(r)
          this.cursor = e.seq
          for (const l of this.listeners) {
            try {
              l(r.machine, e)
            } catch {
              // one client's failure must not stop the others' tail
            }
          }
        }
        full = rows.length === TAIL_PAGE
      }
    } catch {
      // the database is away: the tail waits and tries again (the backend logged the outage)
    } finally {
      this.polling = false
    }
    if (this.listeners.size > 0 && !this.timer) this.schedule(full ? 0 : this.options.pollMs)
  }

  private view(r: MachineRow): MachineView {
    const summary: MachineSummary = { ...r.summary, id: r.id, firstSeen: Number(r.first_seen), lastSeen: Number(r.last_seen) }
    return { ...summary, state: machineState(summary, (this.options.now ?? Date.now)(), this.options.stuckAfterMs) }
  }
}

function eventOf(r: EventRow): TimelineEvent {
  return { seq: Number(r.id), at: Number(r.at), source: r.source, type: r.type, fields: r.fields }
}
