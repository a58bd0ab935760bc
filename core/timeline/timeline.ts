/**
 * The machine timeline recorder: one bounded ring of events per machine, a bounded number of
 * machines (the least recently seen is forgotten first), and the summary `bootpolicy machines`
 * shows. `record()` is synchronous and cheap (map lookups and an array store): services call it on
 * their hot paths and never wait for disk. The whole timeline is written through core/state in the
 * background (every `flushMs` when something changed, one write at a time) and read back at start.
 * Events of a request that carries no MAC (/boot.ipxe, /files, TFTP) are filed under the MAC that
 * holds its IP address (ip-bindings.ts: a lease of this server's DHCP, or a claim by a proxyDHCP
 * request or a /boot), else under `ip:<address>`; a claim moves the address's last MERGE_WINDOW_MS
 * of `ip:` events onto the MAC (the bootstrap that came just before the claiming /boot).
 */
import type { Logger } from 'pino'
import type { StateStore } from '../state/state-store.js'
import { EventRing } from './event-ring.js'
import { boundedFields, clean, normalMac } from './event-fields.js'
import { type BindingKind, IpBindings } from './ip-bindings.js'
import { machineState } from './machine-state.js'
import type { EventSink, EventSource, MachineState, MachineSummary, SummaryChange, TimelineEvent } from './timeline-types.js'

export interface TimelineOptions {
  /** false: record() does nothing (timeline.enabled). */
  readonly enabled?: boolean
  readonly maxMachines: number
  readonly eventsPerMachine: number
  /** How often a changed timeline is written (0: never written, not read back either). */
  readonly flushMs: number
  /** An installer boot with no callback after this long is stuck. */
  readonly stuckAfterMs: number
  /** The same, per intent profile (a profile not listed uses stuckAfterMs). */
  readonly stuckAfterMsByProfile?: Readonly<Record<string, number>>
  readonly store?: StateStore
  readonly logger?: Logger
  readonly now?: () => number
  /** Called once per machine found stuck (metrics). */
  readonly onStuck?: (id: string, profile: string | undefined) => void
  /** Also gets every event with the summary keys it changed (the PostgreSQL event store). */
  readonly sink?: EventSink
}

/** Who an event is about: a MAC when the request carries one, else the client's IP address. */
export interface Who {
  readonly mac?: string
  readonly ip?: string
}

interface Machine {
  readonly summary: MachineSummary
  readonly ring: EventRing
}

interface StoredTimeline {
  readonly v: 1
  readonly machines: readonly { readonly summary: MachineSummary; readonly events: readonly TimelineEvent[] }[]
}

const STATE_KEY = 'timeline'
/** A claim takes over the `ip:` events of its address from this long before it (a boot's bootstrap is seconds before its /boot). */
export const MERGE_WINDOW_MS = 10 * 60_000

export type Listener = (id: string, e: TimelineEvent) => void

export class Timeline {
  /** Insertion order is recency: a recorded machine is moved to the end, the first is evicted. */
  private readonly machinesById = new Map<string, Machine>()
  private readonly ipBindings: IpBindings
  private readonly listeners = new Set<Listener>()
  private readonly now: () => number
  private seq = 0
  private dirty = false
  private writing: Promise<void> | undefined
  private readonly timer: NodeJS.Timeout | undefined
  private readonly stuckTimer: NodeJS.Timeout | undefined
  /** Events not stored because their machine was evicted meanwhile, machines forgotten. */
  evicted = 0

  constructor(private readonly options: TimelineOptions) {
    this.now = options.now ?? Date.now
    this.ipBindings = new IpBindings(options.maxMachines)
    if (options.flushMs > 0 && options.store) {
      this.timer = setInterval(() => void this.flush(), options.flushMs)
      this.timer.unref()
    }
    const shortest = Math.min(options.stuckAfterMs, ...Object.values(options.stuckAfterMsByProfile ?? {}))
    this.stuckTimer = setInterval(() => this.checkStuck(), Math.min(10_000, Math.max(1000, shortest / 10)))
    this.stuckTimer.unref()
  }

  /** Read the stored timeline back (a missing or damaged document starts an empty one). */
  async load(): Promise<void> {
    if (!this.options.store || this.options.flushMs <= 0) return
    let doc: StoredTimeline | undefined
    try {
      doc = await this.options.store.read<StoredTimeline>(STATE_KEY)
    } catch (err) {
      this.options.logger?.warn({ err }, 'timeline state unreadable; starting an empty timeline')
      return
    }
    if (doc?.v !== 1 || !Array.isArray(doc.machines)) return
    for (const m of doc.machines.slice(-this.options.maxMachines)) {
      if (typeof m?.summary?.id !== 'string' || !Array.isArray(m.events)) continue
      const ring = new EventRing(this.options.eventsPerMachine)
      for (const e of m.events.slice(-this.options.eventsPerMachine)) {
        if (typeof e?.seq !== 'number' || typeof e.type !== 'string') continue
        ring.push(e)
        if (e.seq > this.seq) this.seq = e.seq
      }
      this.machinesById.set(m.summary.id, { summary: m.summary, ring })
      // The lease times are not stored: a machine's address is a claim from when it was last seen.
      if (m.summary.ip && normalMac(m.summary.id) === m.summary.id) this.ipBindings.bind(m.summary.ip, m.summary.id, 'claim', m.summary.lastSeen)
    }
  }

  /**
   * Tie an IP address to a MAC: a `lease` (this server's ACK, for `lifetimeMs`) or a `claim` (a
   * /boot or a proxyDHCP request from the address). A new claim also moves the address's recent
   * `ip:` events onto the MAC.
   */
  learnIp(ip: string | undefined, rawMac: string | undefined, kind: BindingKind = 'claim', lifetimeMs?: number): void {
    if (this.options.enabled === false) return
    const mac = normalMac(rawMac)
    if (!ip || !mac || ip.length > 64) return
    const now = this.now()
    const result = this.ipBindings.bind(ip, mac, kind, now, lifetimeMs)
    if (result !== 'new') return
    const holder = this.machinesById.get(mac)
    if (holder) holder.summary.ip = clean(ip, 64)
    if (kind === 'claim') this.mergeIpEvents(ip, mac, now - MERGE_WINDOW_MS)
  }

  /** The machine id an event is filed under, or undefined when it names neither a MAC nor an address. */
  idOf(who: Who): string | undefined {
    const mac = normalMac(who.mac)
    if (mac) return mac
    if (!who.ip) return undefined
    return this.ipBindings.macOf(who.ip, this.now()) ?? `ip:${clean(who.ip, 64)}`
  }

  /**
   * Record one event. Synchronous: never throws, never waits. `update` may change the summary
   * (last decision, intent, install start) in the same step.
   */
  record(who: Who, source: EventSource, type: string, fields: Record<string, unknown> = {}, update?: (s: MachineSummary) => void): void {
    if (this.options.enabled === false) return
    try {
      const id = this.idOf(who)
      if (!id) return
      const at = this.now()
      const m = this.touch(id, at)
      const sink = this.options.sink
      const before = sink ? { ...m.summary } : undefined
      if (who.ip && !m.summary.ip) m.summary.ip = clean(who.ip, 64)
      update?.(m.summary)
      const e: TimelineEvent = { seq: ++this.seq, at, source, type: clean(type, 32), fields: boundedFields(fields) }
      m.ring.push(e)
      this.dirty = true
      if (sink) sink.event(id, e, changed(before!, m.summary))
      for (const l of this.listeners) {
        try {
          l(id, e)
        } catch {
          // a listener (an SSE client) must not break the service that recorded
        }
      }
    } catch (err) {
      this.options.logger?.error({ err }, 'timeline record failed')
    }
  }

  /** Find a machine by UUID or hostname (intents armed by those keys); linear, for rare events only. */
  findBy(key: 'uuid' | 'hostname', value: string): string | undefined {
    for (const [id, m] of this.machinesById) if (m.summary[key] === value) return id
    return undefined
  }

  /** Live events of every machine (the SSE tail); returns the unsubscribe. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** The timeline's clock (tests set it): summaries updated alongside an event use it too. */
  time(): number {
    return this.now()
  }

  get size(): number {
    return this.machinesById.size
  }

  /** Known machines, most recently seen first, with their state now. */
  machines(): (MachineSummary & { state: MachineState })[] {
    const now = this.now()
    const out: (MachineSummary & { state: MachineState })[] = []
    for (const m of this.machinesById.values()) out.push({ ...m.summary, state: machineState(m.summary, now, this.stuckLimit(m.summary)) })
    return out.reverse()
  }

  summary(id: string): (MachineSummary & { state: MachineState }) | undefined {
    const m = this.machinesById.get(id)
    return m && { ...m.summary, state: machineState(m.summary, this.now(), this.stuckLimit(m.summary)) }
  }

  /** How long this machine's installer boot may go without a callback: its profile's limit, else the default. */
  stuckLimit(s: Pick<MachineSummary, 'installProfile'>): number {
    const byProfile = this.options.stuckAfterMsByProfile
    // Own keys only: a profile named like an Object.prototype member is just an unlisted profile.
    return s.installProfile !== undefined && byProfile && Object.hasOwn(byProfile, s.installProfile) ? byProfile[s.installProfile]! : this.options.stuckAfterMs
  }

  /** One page of a machine's events, oldest first, after the cursor `after` (a seq); `next` is the cursor of the following page. */
  events(id: string, page: { after?: number; limit: number }): { events: TimelineEvent[]; next?: number } | undefined {
    const m = this.machinesById.get(id)
    if (!m) return undefined
    const all = m.ring.toArray()
    const from = page.after === undefined ? all : all.filter((e) => e.seq > page.after!)
    const events = from.slice(0, page.limit)
    return { events, ...(from.length > events.length && { next: events[events.length - 1]!.seq }) }
  }

  /** Flag machines whose installer boot has had no callback for its stuck limit (once each). */
  checkStuck(): string[] {
    const now = this.now()
    const flagged: string[] = []
    for (const [id, m] of this.machinesById) {
      const s = m.summary
      const limitMs = this.stuckLimit(s)
      if (s.installStartedAt === undefined || s.stuck || now - s.installStartedAt < limitMs) continue
      flagged.push(id)
      const facts = { sinceMs: now - s.installStartedAt, limitMs, profile: s.installProfile }
      this.record({ mac: id.startsWith('ip:') ? undefined : id, ip: s.ip }, 'intent', 'stuck', facts, (x) => {
        x.stuck = true
      })
      this.options.logger?.warn({ code: 'BPWRN012', machine: id, ...facts }, 'BPWRN012 machine stuck: its installer boot sent no callback in time')
      this.options.onStuck?.(id, s.installProfile)
    }
    return flagged
  }

  /** Write the timeline now if it changed (one write at a time; a failure is logged and retried next time). */
  flush(): Promise<void> {
    if (this.writing) return this.writing
    if (!this.dirty || !this.options.store || this.options.flushMs <= 0) return Promise.resolve()
    this.dirty = false
    const doc: StoredTimeline = { v: 1, machines: [...this.machinesById.values()].map((m) => ({ summary: m.summary, events: m.ring.toArray() })) }
    this.writing = this.options.store
      .write(STATE_KEY, doc)
      .catch((err: unknown) => {
        this.dirty = true
        this.options.logger?.error({ err }, 'timeline state could not be written')
      })
      .finally(() => {
        this.writing = undefined
      })
    return this.writing
  }

  async close(): Promise<void> {
    clearInterval(this.timer)
    clearInterval(this.stuckTimer)
    this.listeners.clear()
    await this.writing
    await this.flush()
  }

  /** Move the events of `ip:<address>` since `since` onto the MAC, in seq order; older ones stay (a previous holder's). */
  private mergeIpEvents(ip: string, mac: string, since: number): void {
    const id = `ip:${clean(ip, 64)}`
    const from = this.machinesById.get(id)
    if (!from) return
    const all = from.ring.toArray()
    const moved = all.filter((e) => e.at >= since)
    if (moved.length === 0) return
    const kept = all.filter((e) => e.at < since)
    const to = this.touch(mac, this.now())
    if (!to.summary.ip) to.summary.ip = clean(ip, 64)
    if (moved[0]!.at < to.summary.firstSeen) to.summary.firstSeen = moved[0]!.at
    to.ring.replaceWith([...to.ring.toArray(), ...moved].sort((a, b) => a.seq - b.seq))
    if (kept.length === 0) this.machinesById.delete(id)
    else from.ring.replaceWith(kept)
    this.dirty = true
    // The stored copy (PostgreSQL) moves the same events, or /api/machines keeps the ip: machine.
    this.options.sink?.move?.(id, mac, since, clean(ip, 64))
  }

  private touch(id: string, at: number): Machine {
    let m = this.machinesById.get(id)
    if (m) {
      this.machinesById.delete(id)
    } else {
      m = { summary: { id, firstSeen: at, lastSeen: at }, ring: new EventRing(this.options.eventsPerMachine) }
      if (this.machinesById.size >= this.options.maxMachines) {
        this.machinesById.delete(this.machinesById.keys().next().value!)
        this.evicted++
      }
    }
    m.summary.lastSeen = at
    this.machinesById.set(id, m)
    return m
  }
}

/** The summary keys `after` changed from `before` (removed: null); id and the times have columns of their own. */
function changed(before: MachineSummary, after: MachineSummary): SummaryChange {
  const out: Record<string, unknown> = {}
  for (const k in after) {
    const v = (after as unknown as Record<string, unknown>)[k]
    if (k !== 'id' && k !== 'firstSeen' && k !== 'lastSeen' && v !== (before as unknown as Record<string, unknown>)[k]) out[k] = v === undefined ? null : v
  }
  for (const k in before) if (!(k in after) || (after as unknown as Record<string, unknown>)[k] === undefined) out[k] = null
  return out
}
