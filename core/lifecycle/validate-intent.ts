/**
 * Hostile JSON in, a checked intent request out (or BP_ERR_INTENT_INVALID naming the field). The
 * HTTP API and the CLI (through it) arm machines with this; limits are stated in numbers here.
 */
import { normalizeMac } from '../context/normalize-mac.js'
import { normalizeUuid } from '../context/normalize-uuid.js'
import type { Decision } from '../decision/types.js'
import { type KindValidators, validateDecision } from '../decision/validate-decision.js'
import { BootpolicyError } from '../errors/bp-error.js'
import type { IntentTarget, MachineKey } from './intent-types.js'

export const MAX_NOTE = 500
export const MAX_EXPIRY_MS = 30 * 24 * 3600 * 1000
const LABEL = /^[a-z0-9][a-z0-9._-]{0,62}$/
const PROFILE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const SET_BY = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/
const KEYS = new Set(['machine', 'profile', 'decision', 'note', 'expiresAt', 'expiresInS', 'setBy'])

export interface IntentRequest {
  readonly machine: MachineKey
  readonly target: IntentTarget
  readonly note: string
  readonly expiresAt: number
  /** A name the caller claims (the CLI sends the user's login); shown beside how it authenticated. */
  readonly setBy?: string
}

function invalid(details: string): BootpolicyError {
  return new BootpolicyError('BP_ERR_INTENT_INVALID', { details })
}

/** `mac:52:54:…`, `uuid:…` or `label:web-01` (the hostname iPXE reports, any case). */
export function parseMachine(text: unknown): MachineKey {
  if (typeof text !== 'string' || text.length > 80) throw invalid('machine must be "mac:<MAC>", "uuid:<UUID>" or "label:<hostname>"')
  const at = text.indexOf(':')
  const by = text.slice(0, at)
  const rest = text.slice(at + 1)
  if (by === 'mac') {
    const mac = normalizeMac(rest)
    if (mac) return { by, value: mac }
    throw invalid('machine: not a MAC address (six hex octets)')
  }
  if (by === 'uuid') {
    const uuid = normalizeUuid(rest)
    if (uuid) return { by, value: uuid }
    throw invalid('machine: not a UUID')
  }
  if (by === 'label') {
    const label = rest.toLowerCase()
    if (LABEL.test(label)) return { by, value: label }
    throw invalid('machine: a label is 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit')
  }
  throw invalid('machine must be "mac:<MAC>", "uuid:<UUID>" or "label:<hostname>"')
}

export function parseIntentRequest(body: unknown, now: number, kinds: KindValidators): IntentRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('expected a JSON object')
  const b = body as Record<string, unknown>
  const unknownKey = Object.keys(b).find((k) => !KEYS.has(k))
  if (unknownKey !== undefined) throw invalid(`unknown field ${JSON.stringify(unknownKey.slice(0, 40))}`)
  const machine = parseMachine(b.machine)
  if ((b.profile === undefined) === (b.decision === undefined)) throw invalid('give exactly one of profile and decision')
  let target: IntentTarget
  if (b.profile !== undefined) {
    if (typeof b.profile !== 'string' || !PROFILE.test(b.profile)) throw invalid('profile: 1-64 letters, digits, ".", "_" or "-"')
    target = { profile: b.profile }
  } else {
    const checked = validateDecision(b.decision, kinds)
    if (!checked.ok) throw invalid(`decision: ${checked.problems.slice(0, 5).join('; ')}`)
    target = { decision: b.decision as Decision }
  }
  const note = b.note ?? ''
  if (typeof note !== 'string') throw invalid('note must be a string')
  if (note.length > MAX_NOTE) throw invalid(`note is longer than ${MAX_NOTE} characters`)
  if (/[\u0000-\u001f\u007f-\u009f]/.test(note)) throw invalid('note holds control characters')
  const expiresAt = expiry(b, now)
  if (b.setBy !== undefined && (typeof b.setBy !== 'string' || !SET_BY.test(b.setBy))) throw invalid('setBy: 1-64 letters, digits, ".", "_", "@" or "-"')
  return { machine, target, note, expiresAt, ...(typeof b.setBy === 'string' && { setBy: b.setBy }) }
}

function expiry(b: Record<string, unknown>, now: number): number {
  if ((b.expiresAt === undefined) === (b.expiresInS === undefined)) throw invalid('give exactly one of expiresAt (ISO 8601) and expiresInS (seconds)')
  let at: number
  if (b.expiresInS !== undefined) {
    if (typeof b.expiresInS !== 'number' || !Number.isInteger(b.expiresInS) || b.expiresInS < 1) throw invalid('expiresInS must be a whole number of seconds, at least 1')
    at = now + b.expiresInS * 1000
  } else {
    at = typeof b.expiresAt === 'string' && b.expiresAt.length <= 40 ? Date.parse(b.expiresAt) : Number.NaN
    if (Number.isNaN(at)) throw invalid('expiresAt must be an ISO 8601 date')
    if (at <= now) throw invalid('expiresAt is in the past')
  }
  if (at - now > MAX_EXPIRY_MS) throw invalid('the expiry is more than 30 days ahead')
  return at
}
