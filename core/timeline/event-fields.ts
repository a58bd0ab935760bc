/**
 * Bounds and scrubs the facts of an event before it is stored: at most 24 fields, keys and strings
 * cut short, control characters replaced, and any key that names a secret dropped whatever its
 * value — a caller's mistake must not put a password, token or CHAP secret on disk or on the API.
 */
import type { EventFields } from './timeline-types.js'

const MAX_FIELDS = 24
const MAX_KEY = 32
const MAX_STRING = 256
const SECRET_KEY = /pass|secret|token|chap|credential|authorization|cookie|key/i

export function boundedFields(input: Record<string, unknown>): EventFields {
  const out: Record<string, string | number | boolean> = {}
  let n = 0
  for (const k in input) {
    if (n >= MAX_FIELDS) break
    const v = input[k]
    if (v === undefined || k.length > MAX_KEY || isSecretKey(k)) continue
    if (typeof v === 'string') out[k] = clean(v)
    else if (typeof v === 'number') out[k] = Number.isFinite(v) ? v : 0
    else if (typeof v === 'boolean') out[k] = v
    else continue
    n++
  }
  return out
}

const CONTROL = /[\u0000-\u001f\u007f]/g
// Keys come from a few call sites: the verdict per key is remembered (at most 1,024 of them).
const secretKeys = new Map<string, boolean>()
function isSecretKey(k: string): boolean {
  let v = secretKeys.get(k)
  if (v === undefined) {
    v = SECRET_KEY.test(k)
    if (secretKeys.size < 1024) secretKeys.set(k, v)
  }
  return v
}

// Not global, so test() keeps no lastIndex state.
const HAS_CONTROL = /[\u0000-\u001f\u007f]/

export function clean(s: string, max = MAX_STRING): string {
  const cut = s.length > max ? `${s.slice(0, max)}…` : s
  return HAS_CONTROL.test(cut) ? cut.replace(CONTROL, '?') : cut
}

const MAC = /^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$/i

/** `aa:bb:cc:dd:ee:ff`, or undefined when it is not a MAC. */
export function normalMac(raw: string | undefined): string | undefined {
  if (!raw || raw.length > 17) return undefined
  // A context's MAC is already in this form (twice per /boot): returned as is, without the regex and copies.
  if (isCanonicalMac(raw)) return raw
  if (!MAC.test(raw)) return undefined
  const hex = raw.replace(/[:-]/g, '').toLowerCase()
  return hex.match(/../g)!.join(':')
}

/** Exactly `aa:bb:cc:dd:ee:ff`: 17 characters, lower-case hex pairs, colons at 2, 5, 8, 11, 14. */
function isCanonicalMac(s: string): boolean {
  if (s.length !== 17) return false
  for (let i = 0; i < 17; i++) {
    const c = s.charCodeAt(i)
    if (i % 3 === 2) {
      if (c !== 0x3a) return false
    } else if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false
  }
  return true
}
