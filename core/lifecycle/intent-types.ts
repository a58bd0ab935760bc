/**
 * The shape of an intent: "boot this machine once into that target, until then". Stored records
 * (with the hash of the installer token, never the token) and the plain view policies get as
 * `ctx.intent`. See docs/reference/intents.md.
 */
import type { Decision } from '../decision/types.js'

/** Which machine an intent arms: its MAC, its SMBIOS UUID, or a label (the hostname iPXE reports). */
export interface MachineKey {
  readonly by: 'mac' | 'uuid' | 'label'
  readonly value: string
}

export type IntentTarget = { readonly profile: string } | { readonly decision: Decision }

/** The machine an installer token was handed to, from the boot that carried it. */
export interface TokenBinding {
  readonly hash: string
  readonly mac?: string
  readonly uuid?: string
  readonly issuedAt: number
}

export interface IntentFailure {
  readonly reason: string
  /** The last lines the installer sent (at most 4 KiB). */
  readonly log?: string
  readonly at: number
}

export interface IntentRecord {
  readonly id: string
  readonly machine: MachineKey
  readonly target: IntentTarget
  readonly note: string
  /** Epoch milliseconds. */
  readonly expiresAt: number
  readonly setBy: string
  readonly setAt: number
  readonly state: 'armed' | 'failed'
  readonly failure?: IntentFailure
  /** The live token (its hash), once a boot under this intent carried one. */
  readonly token?: TokenBinding
  /** How many tokens boots under this intent were given (each revoked the one before). */
  readonly tokensIssued: number
}

/** How an intent ended: the installer said `built`, an operator cleared or replaced it, or it expired. */
export type EndOutcome = 'built' | 'cleared' | 'replaced' | 'expired'

export interface EndedIntent extends Omit<IntentRecord, 'token'> {
  readonly outcome: EndOutcome
  readonly reason: string
  readonly endedAt: number
  readonly endedBy: string
}

/** What policies see as `ctx.intent` (plain data; never the token: see INTENT_TOKEN). */
export interface IntentFacts {
  readonly id: string
  readonly machine: MachineKey
  /** The named profile, when the intent targets one. */
  readonly profile?: string
  /** The decision, when the intent targets one. */
  readonly decision?: Decision
  readonly note: string
  /** ISO 8601. */
  readonly expiresAt: string
  readonly setBy: string
  readonly setAt: string
  /** `failed`: the installer reported a failure; the intent stays armed until built, cleared or expired. */
  readonly state: 'armed' | 'failed'
  readonly failure?: { readonly reason: string; readonly at: string }
}

/** Told of every intent change and callback (the machine timeline records these). */
export type LifecycleEvent =
  | { readonly type: 'armed'; readonly intent: IntentRecord; readonly replaced?: IntentRecord }
  | { readonly type: 'token-issued'; readonly intent: IntentRecord }
  | { readonly type: 'failed'; readonly intent: IntentRecord }
  | { readonly type: 'ended'; readonly intent: EndedIntent }
  | { readonly type: 'callback-refused'; readonly outcome: 'built' | 'failed'; readonly mac?: string; readonly uuid?: string }

export function machineKeyText(key: MachineKey): string {
  return `${key.by}:${key.value}`
}

export function factsOf(r: IntentRecord): IntentFacts {
  return {
    id: r.id,
    machine: r.machine,
    ...('profile' in r.target ? { profile: r.target.profile } : { decision: r.target.decision }),
    note: r.note,
    expiresAt: new Date(r.expiresAt).toISOString(),
    setBy: r.setBy,
    setAt: new Date(r.setAt).toISOString(),
    state: r.state,
    ...(r.failure && { failure: { reason: r.failure.reason, at: new Date(r.failure.at).toISOString() } }),
  }
}
