/**
 * What /api/machines reads: the machines list, one machine's events in pages, and the live tail.
 * One replica (or the files backend) reads its own Timeline; replicas on PostgreSQL read the
 * shared tables (pg-timeline-reader.ts), so every replica shows what any of them served.
 */
import type { MachineState, MachineSummary, TimelineEvent } from './timeline-types.js'
import type { Listener, Timeline } from './timeline.js'

export type MachineView = MachineSummary & { state: MachineState }

export interface EventPage {
  readonly machine: MachineView
  readonly events: readonly TimelineEvent[]
  /** The cursor (a seq) of the following page, when there is one. */
  readonly next?: number
}

export interface TimelineReader {
  /** Most recently seen first. */
  machines(page: { readonly limit: number; readonly offset: number }): Promise<{ total: number; machines: MachineView[] }>
  /** Oldest first, after the cursor `after`; undefined for a machine never seen. */
  events(id: string, page: { readonly after?: number; readonly limit: number }): Promise<EventPage | undefined>
  /** Every new event as it is known here; returns the unsubscribe. */
  subscribe(listener: Listener): () => void
  close(): void
}

/** The reader of one process's own timeline. */
export function localTimelineReader(timeline: Timeline): TimelineReader {
  return {
    async machines(page) {
      const all = timeline.machines()
      return { total: all.length, machines: all.slice(page.offset, page.offset + page.limit) }
    },
    async events(id, page) {
      const p = timeline.events(id, page)
      const machine = timeline.summary(id)
      return p && machine ? { machine, events: p.events, ...(p.next !== undefined && { next: p.next }) } : undefined
    },
    subscribe: (listener) => timeline.subscribe(listener),
    close() {},
  }
}
