/**
 * Parse a /boot query string the way real iPXE sends it (see docs/reference/boot-context.md):
 * - `+` is a literal plus, never a space;
 * - `%FFFFFFxx` is iPXE's sign-extended encoding of the byte 0xxx;
 * - a bad `%` escape is kept literally instead of throwing (decodeURIComponent would);
 * - values are decoded as UTF-8 bytes; invalid sequences become U+FFFD.
 * Limits keep a hostile query from costing more than a few microseconds.
 */
import { BootpolicyError } from '../errors/bp-error.js'

export const MAX_QUERY_LENGTH = 8192
export const MAX_PARAMS = 64

const utf8 = new TextDecoder('utf-8', { fatal: false })

export function decodeIpxeComponent(raw: string): string {
  if (!raw.includes('%')) return raw
  const bytes: number[] = []
  for (let i = 0; i < raw.length; ) {
    const ch = raw.charCodeAt(i)
    if (ch === 0x25 /* % */) {
      const long = /^%[fF]{6}([0-9a-fA-F]{2})/.exec(raw.slice(i, i + 9))
      if (long) {
        bytes.push(parseInt(long[1]!, 16))
        i += 9
        continue
      }
      const short = /^%([0-9a-fA-F]{2})/.exec(raw.slice(i, i + 3))
      if (short) {
        bytes.push(parseInt(short[1]!, 16))
        i += 3
        continue
      }
    }
    // Non-escaped characters: re-encode as UTF-8 so mixed input decodes consistently.
    const cp = raw.codePointAt(i)!
    for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) bytes.push(b)
    i += cp > 0xffff ? 2 : 1
  }
  return utf8.decode(Uint8Array.from(bytes))
}

/** iPXE `${x:hex}` output (`41:42:43`, `41-42-43`, or bare hex) → bytes; undefined if malformed. */
export function decodeHexSetting(raw: string): Uint8Array | undefined {
  const s = raw.trim()
  const n = s.length
  if (n === 0) return new Uint8Array()
  // One pass over the characters (this runs for several fields of every /boot request): pairs of
  // hex digits, each pair but the last followed by `:` or `-` when the text has separators at all.
  const separated = s.includes(':') || s.includes('-')
  const count = separated ? (n + 1) / 3 : n / 2
  if (!Number.isInteger(count) || count > 1024) return undefined
  const step = separated ? 3 : 2
  const out = new Uint8Array(count)
  for (let i = 0, at = 0; i < count; i++, at += step) {
    const hi = hexDigit(s.charCodeAt(at))
    const lo = hexDigit(s.charCodeAt(at + 1))
    if (hi < 0 || lo < 0) return undefined
    if (separated && i < count - 1) {
      const sep = s.charCodeAt(at + 2)
      if (sep !== 0x3a && sep !== 0x2d) return undefined
    }
    out[i] = hi * 16 + lo
  }
  return out
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x61 && c <= 0x66) return c - 0x57
  if (c >= 0x41 && c <= 0x46) return c - 0x37
  return -1
}

/** Query string (without `?`) → ordered key/value pairs; the first occurrence of a key wins. */
export function parseIpxeQuery(query: string): Map<string, string> {
  if (query.length > MAX_QUERY_LENGTH) {
    throw new BootpolicyError('BP_ERR_CONTEXT_UNREADABLE', { reason: `query longer than ${MAX_QUERY_LENGTH} bytes` })
  }
  const out = new Map<string, string>()
  if (query === '') return out
  const pairs = query.split('&')
  if (pairs.length > MAX_PARAMS) {
    throw new BootpolicyError('BP_ERR_CONTEXT_UNREADABLE', { reason: `more than ${MAX_PARAMS} parameters` })
  }
  for (const pair of pairs) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const key = decodeIpxeComponent(eq === -1 ? pair : pair.slice(0, eq))
    const value = eq === -1 ? '' : decodeIpxeComponent(pair.slice(eq + 1))
    if (!out.has(key)) out.set(key, value)
  }
  return out
}
