/**
 * Where intents live. Every method that changes state is one atomic step: `settle` (an installer's
 * callback) in particular must consume an intent exactly once, whichever replica receives it and
 * however many copies of the callback arrive at once.
 *
 * The embedded implementation (file-intent-store.ts) serializes the steps inside one process. A
 * shared implementation for several replicas does each step in one database transaction: `settle`
 * as a conditional `UPDATE … WHERE token_hash = $1 AND (mac = $2 OR uuid = $3) AND expires_at > now()
 * RETURNING …` (or `SELECT … FOR UPDATE` then the update), so that exactly one replica sees the row;
 * `revision` from a row counter that every change bumps (and LISTEN/NOTIFY to learn of it).
 */
import type { EndedIntent, IntentRecord, MachineKey, TokenBinding } from './intent-types.js'

export interface CallbackReport {
  readonly outcome: 'built' | 'failed'
  /** Why it failed (given by the installer), or a fixed text for `built`. */
  readonly reason: string
  readonly log?: string
}

export type SettleResult =
  | { readonly ok: true; readonly outcome: 'built'; readonly intent: EndedIntent }
  | { readonly ok: true; readonly outcome: 'failed'; readonly intent: IntentRecord }
  /** `expired`: the token was right but its intent had expired (it is ended now, if it was not yet). */
  | { readonly ok: false; readonly why: 'unknown' | 'expired'; readonly ended?: EndedIntent }

export interface IntentStore {
  /** The active, unexpired intent for the first of `keys` that has one (callers pass mac, uuid, label). */
  find(keys: readonly MachineKey[], now: number): Promise<IntentRecord | undefined>
  list(): Promise<{ readonly active: readonly IntentRecord[]; readonly ended: readonly EndedIntent[] }>
  /** Arm; an intent already armed for the same machine ends as `replaced` (its token dies with it). */
  arm(intent: IntentRecord, now: number): Promise<{ readonly replaced?: EndedIntent }>
  clear(machine: MachineKey, by: string, now: number): Promise<EndedIntent | undefined>
  /** Bind a fresh token to the active intent `id`, revoking the one before; undefined when it is gone or expired. */
  issueToken(id: string, binding: TokenBinding, now: number): Promise<IntentRecord | undefined>
  /** The installer's callback: the intent whose live token has `tokenHash` and was issued to this machine. */
  settle(machine: { readonly mac?: string; readonly uuid?: string }, tokenHash: string, report: CallbackReport, now: number): Promise<SettleResult>
  /** End every intent whose expiry has passed (reason "expired before callback"). */
  expire(now: number): Promise<readonly EndedIntent[]>
  /** Changes whenever what policies see changes (armed, cleared, failed, ended): part of the response cache key. */
  revision(): string
  /** Releases listeners (the shared store's change subscription). */
  close?(): void
}

/** The reason an expired intent is ended with. */
export const EXPIRED_REASON = 'expired before callback'
