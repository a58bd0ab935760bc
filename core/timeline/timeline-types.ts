/**
 * The shape of a machine's timeline (docs/reference/timeline.md): one event per thing a service saw
 * or did for that machine, and the summary `bootpolicy machines` lists. Plain data: events are
 * persisted as JSON and served over /api/machines.
 */

/** Which service saw the event. */
export type EventSource = 'dhcp' | 'tftp' | 'http' | 'files' | 'login' | 'intent' | 'callback'

/** Scalar facts only: an event is small, and its size is bounded at record time. */
export type EventFields = Readonly<Record<string, string | number | boolean>>

export interface TimelineEvent {
  /** Per-process sequence number (increasing): pagination cursor and SSE id. */
  readonly seq: number
  /** Epoch milliseconds. */
  readonly at: number
  readonly source: EventSource
  /** e.g. `DISCOVER`, `ACK`, `bootstrap`, `decision`, `download`, `armed`, `built`. */
  readonly type: string
  readonly fields: EventFields
}

/** What the machine is doing, from its last events (see machineState in machine-state.ts). */
export type MachineState = 'seen' | 'booting' | 'installing' | 'installed' | 'failed' | 'stuck'

export interface MachineSummary {
  /** The MAC (lower case, colons), or `ip:<address>` while no MAC is known for that address. */
  readonly id: string
  firstSeen: number
  lastSeen: number
  ip?: string
  uuid?: string
  hostname?: string
  arch?: string
  lastDecision?: { readonly kind: string; readonly decidedBy: string; readonly rev?: string; readonly at: number }
  intent?: { readonly id: string; readonly state: string }
  /** When the installer boot started (a token was issued) and no callback has come since. */
  installStartedAt?: number
  /** The profile of the intent that installer boot is under: its stuck limit applies (timeline.stuckAfterMsByProfile). */
  installProfile?: string
  /** Last settled outcome: `built` or `failed`. */
  outcome?: 'built' | 'failed'
  stuck?: boolean
}

/**
 * The summary keys one event changed (`null`: removed), beside the event: what a shared store
 * merges into its machine row, so that replicas add to one summary instead of overwriting it.
 */
export type SummaryChange = Readonly<Record<string, unknown>>

/** Where a timeline also sends every event it records (the PostgreSQL event store); never waits. */
export interface EventSink {
  event(machine: string, e: TimelineEvent, change: SummaryChange): void
  /** A claim moved the events of `from` (an `ip:` id) since `since` onto the MAC `to` (timeline.ts mergeIpEvents). */
  move?(from: string, to: string, since: number, ip: string): void
}
