/**
 * The decision log's line (one per /boot request), serialized in one pass instead of through
 * pino's redaction, formatter and stringify (three walks of the same record: most of what the
 * decision log cost a request). The same guarantees, applied while writing: every string is
 * scrubbed of registered secrets and capped (scrubString), every key that logger.ts redacts
 * (`password`, `secret`, `chapSecret`, `credentials`) is censored at any depth, depth is bounded.
 * Compact: the request id once (top level), the context once, nothing pino would add twice.
 * A field it cannot write (a throwing getter in a plugin's facts) is written as `"[unserializable]"`:
 * the line is still written, and the request goes on.
 * Values deepFreeze sealed (contexts, a memoized response's parts; deep-freeze.ts) are written
 * once, not per request: while no secret is registered at all, a sealed value whose plain JSON text provably needs none of the
 * above (no censored key, no string past the cap, not too deep) is written as that text, which the
 * policy runner has already made for the same context (frozen-json.ts); otherwise its scrubbed
 * text is kept per object until the next secret is registered (secretsGeneration).
 */
import { pino, type Logger } from 'pino'
import { isSealed } from '../context/deep-freeze.js'
import { frozenJson } from '../context/frozen-json.js'
import { MAX_LOGGED_STRING, scrubString } from './log-scrub.js'
import { hasSecrets, secretsGeneration } from './secret-registry.js'

const CENSORED: ReadonlySet<string> = new Set(['password', 'secret', 'chapSecret', 'credentials'])
const MAX_DEPTH = 8
const LEVELS = { info: 30, warn: 40 } as const
/** A censored key as it appears in JSON text (a false match only costs the slow path). */
const CENSORED_KEY = /"(?:password|secret|chapSecret|credentials)":/
/** Scrubbed texts of frozen values, by the depth they were written at and the secrets generation. */
const written = new WeakMap<object, { readonly depth: number; readonly generation: number; readonly text: string }>()

/**
 * Writes `{"level","time","service","reqId","msg":"decision","decision":{…record without reqId}}`;
 * returns the `decision` text it wrote (undefined when the level is off), so that a caller that
 * also stores the record does not serialize it twice.
 */
export function logDecision(logger: Logger, level: 'info' | 'warn', record: { readonly reqId: string } & object): string | undefined {
  if (!logger.isLevelEnabled(level)) return undefined
  const stream = (logger as unknown as Record<symbol, { write(line: string): void } | undefined>)[pino.symbols.streamSym]
  if (!stream) {
    logger[level]({ decision: record }, 'decision')
    return undefined
  }
  const text = decisionJson(record)
  stream.write(`{"level":${LEVELS[level]},"time":${Date.now()},"service":"bootpolicy","reqId":${json(String(record.reqId), 1)},"msg":"decision","decision":${text}}\n`)
  return text
}

/**
 * The record without its reqId as JSON text, with the same guarantees as the log line (it is the
 * line's `decision`): what the PostgreSQL event store keeps (core/timeline/pg-event-store.ts).
 */
export function decisionJson(record: { readonly reqId: string } & object): string {
  const keys = Object.keys(record)
  const hit = hitText(record as Record<string, unknown>, keys)
  if (hit !== undefined) return hit
  const parts: string[] = []
  for (const key of keys) {
    if (key === 'reqId') continue
    let text: string
    try {
      const v = (record as Record<string, unknown>)[key]
      if (v === undefined) continue
      text = CENSORED.has(key) ? '"[redacted]"' : json(v, 1)
    } catch {
      text = '"[unserializable]"'
    }
    parts.push(`${JSON.stringify(key)}:${text}`)
  }
  const text = `{${parts.join(',')}}`
  keepHitText(record as Record<string, unknown>, keys, text)
  return text
}

/**
 * A memoized response's hits (engine.ts) repeat one record but for reqId and wallUs, wallUs last:
 * their text is kept per context up to `"wallUs":`, while every other field is the very same
 * primitive or sealed object (so the same text) and no secret was registered since.
 */
const hitTexts = new WeakMap<object, { readonly record: Record<string, unknown>; readonly keys: readonly string[]; readonly generation: number; readonly head: string }>()
const WALL = ',"wallUs":'

function hitText(record: Record<string, unknown>, keys: readonly string[]): string | undefined {
  const ctx = record.context
  if (record.cached !== true || typeof ctx !== 'object' || ctx === null || typeof record.wallUs !== 'number') return undefined
  const memo = hitTexts.get(ctx)
  if (!memo || memo.generation !== secretsGeneration() || memo.keys.length !== keys.length) return undefined
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!
    if (k !== memo.keys[i] || (k !== 'reqId' && k !== 'wallUs' && record[k] !== memo.record[k])) return undefined
  }
  return `${memo.head}${json(record.wallUs, 1)}}`
}

function keepHitText(record: Record<string, unknown>, keys: readonly string[], text: string): void {
  const ctx = record.context
  if (record.cached !== true || typeof ctx !== 'object' || ctx === null || keys[keys.length - 1] !== 'wallUs' || typeof record.wallUs !== 'number') return
  for (const k of keys) {
    const v = record[k]
    if (k !== 'wallUs' && typeof v === 'object' && v !== null && !isSealed(v)) return // it could change under the kept text
  }
  const cut = text.lastIndexOf(WALL)
  if (cut !== -1) hitTexts.set(ctx, { record, keys, generation: secretsGeneration(), head: text.slice(0, cut + WALL.length) })
}

function json(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(scrubString(value))
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null'
    case 'boolean':
      return value ? 'true' : 'false'
    case 'bigint':
      return JSON.stringify(String(value))
    case 'object':
      break
    default:
      return 'null' // undefined, functions, symbols (pino leaves them out; arrays hold null)
  }
  if (value === null) return 'null'
  if (depth >= MAX_DEPTH) return '"[too deep]"'
  // The empty trace of every request without plugins: no memo entry (a WeakMap entry per request).
  if (Array.isArray(value) && value.length === 0) return '[]'
  if (isSealed(value)) return frozen(value, depth)
  return walk(value, depth)
}

/** A sealed value's text (deep-freeze.ts): its plain JSON when that is provably what `walk` writes, else `walk`'s, memoized. */
function frozen(value: object, depth: number): string {
  const generation = secretsGeneration()
  const memo = written.get(value)
  if (memo && memo.depth === depth && memo.generation === generation) return memo.text
  let text: string | undefined
  if (!hasSecrets()) {
    try {
      const plain = frozenJson(value)
      // Short enough that no string in it reaches the cap; no censored key; nested within MAX_DEPTH.
      if (plain.length <= MAX_LOGGED_STRING && !CENSORED_KEY.test(plain) && nesting(plain) <= MAX_DEPTH - depth) text = plain
    } catch {
      // a value JSON.stringify refuses (bigint, a throwing getter): the walk decides
    }
  }
  text ??= walk(value, depth)
  written.set(value, { depth, generation, text })
  return text
}

/** Deepest bracket nesting in JSON text (brackets inside strings count too: an overestimate only costs the walk). */
function nesting(text: string): number {
  let level = 0
  let max = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x7b || c === 0x5b) {
      if (++level > max) max = level
    } else if (c === 0x7d || c === 0x5d) level--
  }
  return max
}

function walk(value: object, depth: number): string {
  if (Array.isArray(value)) return `[${value.map((v) => json(v, depth + 1)).join(',')}]`
  const toJSON = (value as { toJSON?: unknown }).toJSON
  if (typeof toJSON === 'function') return json(toJSON.call(value), depth + 1)
  const parts: string[] = []
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue
    const v = (value as Record<string, unknown>)[key]
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue
    parts.push(`${JSON.stringify(scrubString(key))}:${CENSORED.has(key) ? '"[redacted]"' : json(v, depth + 1)}`)
  }
  return `{${parts.join(',')}}`
}
