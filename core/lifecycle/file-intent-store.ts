/**
 * The embedded IntentStore: one JSON document (`intents`) in the StateStore, held in memory and
 * rewritten (crash-safe) on every change. Changes run one at a time through a promise queue, each
 * on a copy that replaces the held document only once it is on disk: two callbacks with the same
 * token that arrive together are two queued steps, and the second finds the token gone.
 * Shared (`shared` given, a PostgreSQL backend): replicas hold the same document; every step
 * re-reads it under the backend's lock `intents` (an advisory lock across replicas), so steps of
 * all replicas are serialized and none is lost, and a change notified by another replica (or a
 * listener reconnect) marks the held copy stale and bumps the revision at once, which drops this
 * replica's memoized /boot answers before its next lookup reloads the document.
 */
import { BootpolicyError, messageOf } from '../errors/bp-error.js'
import { DOCUMENT_CHANNEL, type StateBackend } from '../state/state-backend.js'
import type { StateStore } from '../state/state-store.js'
import { hashesMatch } from './intent-token.js'
import { type CallbackReport, EXPIRED_REASON, type IntentStore, type SettleResult } from './intent-store.js'
import { type EndedIntent, type EndOutcome, type IntentRecord, type MachineKey, machineKeyText, type TokenBinding } from './intent-types.js'

export const STATE_KEY = 'intents'
/** Ended intents kept for `list` (newest first). */
export const MAX_ENDED = 500
export const MAX_ACTIVE = 10_000
/** A failed reload of a stale shared copy is tried again after this long, not on every boot. */
const RETRY_MS = 500

/** The document as stored (stateDir/intents.json, or the shared document `intents`). */
export interface Doc {
  readonly v: 1
  readonly active: IntentRecord[]
  readonly ended: EndedIntent[]
}

export class FileIntentStore implements IntentStore {
  private doc: Doc | undefined
  private byMachine = new Map<string, IntentRecord>()
  private queue: Promise<unknown> = Promise.resolve()
  private rev = 0
  /** The shared document's version this copy was read at (shared mode). */
  private version = 0
  private stale = false
  /** The last failed reload (shared mode), retried after RETRY_MS. */
  private failedAt: number | undefined
  private lastFailure: unknown
  private readonly unsubscribe: (() => void) | undefined

  constructor(
    private readonly state: StateStore,
    private readonly shared?: StateBackend,
  ) {
    this.unsubscribe = shared?.subscribe(DOCUMENT_CHANNEL, (key) => {
      if (key !== undefined && key !== STATE_KEY) return
      this.stale = true
      this.rev++
    })
  }

  /** Shared mode with the change listener disconnected: changes may be missed. */
  private deaf(): boolean {
    return this.shared !== undefined && (this.shared as { listening?: boolean }).listening === false
  }

  /** Stops listening for other replicas' changes (shared mode). */
  close(): void {
    this.unsubscribe?.()
  }

  async find(keys: readonly MachineKey[], now: number): Promise<IntentRecord | undefined> {
    if (!this.doc)
      await this.step(async () => ({ value: undefined })) // the first load, queued like any step
    else if (this.stale || this.deaf()) {
      // Another replica changed the intents, or this one cannot hear changes (its listener is down):
      // reload. Unreadable, the copy is not trusted: BP_ERR_INTENT_STATE (cause
      // BP_ERR_STATE_UNAVAILABLE), and the boot fails closed if a policy reads ctx.intent. While
      // the database stays away a retry is tried at most every RETRY_MS, so boots do not queue on it.
      if (this.failedAt !== undefined && Date.now() - this.failedAt < RETRY_MS && this.lastFailure) throw this.lastFailure
      try {
        await this.step(async () => ({ value: undefined }))
        this.failedAt = undefined
        this.lastFailure = undefined
      } catch (err) {
        this.failedAt = Date.now()
        this.lastFailure = err
        throw err
      }
    }
    for (const key of keys) {
      const hit = this.byMachine.get(machineKeyText(key))
      if (hit) return hit.expiresAt > now ? hit : undefined
    }
    return undefined
  }

  list(): Promise<{ active: readonly IntentRecord[]; ended: readonly EndedIntent[] }> {
    return this.step(async (doc) => ({ value: { active: doc.active, ended: doc.ended } }))
  }

  arm(intent: IntentRecord, now: number): Promise<{ replaced?: EndedIntent }> {
    return this.step(async (doc) => {
      const old = doc.active.find((r) => sameMachine(r.machine, intent.machine))
      if (!old && doc.active.length >= MAX_ACTIVE) throw new BootpolicyError('BP_ERR_INTENT_LIMIT', { limit: String(MAX_ACTIVE) })
      const replaced = old && ended(old, 'replaced', 're-armed', intent.setBy, now)
      const active = [...doc.active.filter((r) => r !== old), intent]
      return { doc: { v: 1, active, ended: replaced ? keep([replaced, ...doc.ended]) : doc.ended }, value: replaced ? { replaced } : {} }
    })
  }

  clear(machine: MachineKey, by: string, now: number): Promise<EndedIntent | undefined> {
    return this.step(async (doc) => {
      const old = doc.active.find((r) => sameMachine(r.machine, machine))
      if (!old) return { value: undefined }
      const e = ended(old, 'cleared', 'cleared by an operator', by, now)
      return { doc: { v: 1, active: doc.active.filter((r) => r !== old), ended: keep([e, ...doc.ended]) }, value: e }
    })
  }

  issueToken(id: string, binding: TokenBinding, now: number): Promise<IntentRecord | undefined> {
    return this.step(async (doc) => {
      const old = doc.active.find((r) => r.id === id)
      if (!old || old.expiresAt <= now) return { value: undefined }
      const next: IntentRecord = { ...old, token: binding, tokensIssued: old.tokensIssued + 1 }
      return { doc: { ...doc, active: doc.active.map((r) => (r === old ? next : r)) }, value: next, quiet: true }
    })
  }

  settle(machine: { mac?: string; uuid?: string }, tokenHash: string, report: CallbackReport, now: number): Promise<SettleResult> {
    return this.step(async (doc): Promise<{ doc?: Doc; value: SettleResult }> => {
      // Only intents whose token was handed to this very machine are compared, each in constant time.
      const hit = doc.active.find((r) => r.token && boundTo(r.token, machine) && hashesMatch(r.token.hash, tokenHash))
      if (!hit) return { value: { ok: false, why: 'unknown' } }
      const rest = doc.active.filter((r) => r !== hit)
      if (hit.expiresAt <= now) {
        const e = ended(hit, 'expired', EXPIRED_REASON, 'expiry', now)
        return { doc: { v: 1, active: rest, ended: keep([e, ...doc.ended]) }, value: { ok: false, why: 'expired', ended: e } }
      }
      if (report.outcome === 'built') {
        const e = ended(hit, 'built', report.reason, 'installer', now)
        return { doc: { v: 1, active: rest, ended: keep([e, ...doc.ended]) }, value: { ok: true, outcome: 'built', intent: e } }
      }
      // `failed` keeps the intent with the reason; the token is spent (the next boot gets a fresh one).
      const { token: _spent, ...kept } = hit
      const failed: IntentRecord = { ...kept, state: 'failed', failure: { reason: report.reason, ...(report.log !== undefined && { log: report.log }), at: now } }
      return { doc: { v: 1, active: [...rest, failed], ended: doc.ended }, value: { ok: true, outcome: 'failed', intent: failed } }
    })
  }

  expire(now: number): Promise<readonly EndedIntent[]> {
    return this.step(async (doc) => {
      const gone = doc.active.filter((r) => r.expiresAt <= now)
      if (gone.length === 0) return { value: [] }
      const es = gone.map((r) => ended(r, 'expired', EXPIRED_REASON, 'expiry', now))
      return { doc: { v: 1, active: doc.active.filter((r) => r.expiresAt > now), ended: keep([...es, ...doc.ended]) }, value: es }
    })
  }

  revision(): string {
    // Deaf, answers memoized while this replica could hear changes no longer stand: an intent may
    // have been armed meanwhile (and one that is unreadable must fail closed, not hit the cache).
    return this.deaf() ? `${this.rev}:deaf` : String(this.rev)
  }

  /**
   * One serialized step over the current document. `doc` in the result replaces it once written;
   * `quiet`: the change is invisible to policies (a token), so the revision stays.
   */
  private step<T>(fn: (doc: Doc) => Promise<{ doc?: Doc; value: T; quiet?: boolean }>): Promise<T> {
    const once = async (): Promise<T> => {
      const doc = this.shared ? await this.loadShared() : (this.doc ?? (await this.load()))
      const out = await fn(doc)
      if (out.doc) {
        try {
          if (!this.shared) await this.state.write(STATE_KEY, out.doc)
          else {
            // Under the lock no other replica writes: a refused compare-and-set means the lock was lost.
            const v = await this.shared.compareAndSet(STATE_KEY, this.version, out.doc)
            if (v === undefined) throw new Error('the intents document changed under the lock')
            this.version = v
          }
        } catch (cause) {
          throw new BootpolicyError('BP_ERR_INTENT_STATE', { action: 'written', details: messageOf(cause) }, { cause })
        }
        this.commit(out.doc, !out.quiet)
      }
      return out.value
    }
    const run = this.queue.then(() => (this.shared ? this.shared.withLock(`lock:${STATE_KEY}`, once) : once()))
    this.queue = run.catch(() => undefined)
    return run
  }

  private async load(): Promise<Doc> {
    let raw: Doc | undefined
    try {
      raw = await this.state.read<Doc>(STATE_KEY)
    } catch (cause) {
      throw new BootpolicyError('BP_ERR_INTENT_STATE', { action: 'read', details: messageOf(cause) }, { cause })
    }
    const doc: Doc = raw && Array.isArray(raw.active) && Array.isArray(raw.ended) ? raw : { v: 1, active: [], ended: [] }
    // The first load is no change: every decision waits for it (find), so none was made on the
    // unloaded state; bumping here made a whole answer cached by the first boot miss on the second.
    this.commit(doc, this.doc !== undefined)
    return doc
  }

  /** The shared document as it is now; the held copy (and the revision) is kept when its version did not move. */
  private async loadShared(): Promise<Doc> {
    this.stale = false
    let got
    try {
      got = await this.shared!.get<Doc>(STATE_KEY)
    } catch (cause) {
      this.stale = true
      throw new BootpolicyError('BP_ERR_INTENT_STATE', { action: 'read', details: messageOf(cause) }, { cause })
    }
    if (this.doc && got?.version === this.version && this.version !== 0) return this.doc
    if (this.doc && !got && this.version === 0) return this.doc
    this.version = got?.version ?? 0
    const raw = got?.value
    const doc: Doc = raw && Array.isArray(raw.active) && Array.isArray(raw.ended) ? raw : { v: 1, active: [], ended: [] }
    // The first load is no change: every decision waits for it (find), so none was made on the
    // unloaded state; bumping here made a whole answer cached by the first boot miss on the second.
    this.commit(doc, this.doc !== undefined)
    return doc
  }

  private commit(doc: Doc, visible: boolean): void {
    this.doc = doc
    this.byMachine = new Map(doc.active.map((r) => [machineKeyText(r.machine), r]))
    if (visible) this.rev++
  }
}

function sameMachine(a: MachineKey, b: MachineKey): boolean {
  return a.by === b.by && a.value === b.value
}

function boundTo(t: TokenBinding, m: { mac?: string; uuid?: string }): boolean {
  return (m.mac !== undefined && t.mac === m.mac) || (m.uuid !== undefined && t.uuid === m.uuid)
}

function ended(r: IntentRecord, outcome: EndOutcome, reason: string, by: string, now: number): EndedIntent {
  const { token: _dead, ...rest } = r
  return { ...rest, outcome, reason, endedAt: now, endedBy: by }
}

function keep(list: EndedIntent[]): EndedIntent[] {
  return list.length > MAX_ENDED ? list.slice(0, MAX_ENDED) : list
}
