/**
 * What the logger does to every value before it is written: registered secrets scrubbed
 * (secret-registry.ts), strings capped at 4 KiB with a `…[truncated N chars]` marker (an 8 MB
 * thrown message is not logged whole), errors serialized with their `cause` chain and
 * AggregateError's `errors`, each part scrubbed and capped. Only plain objects and arrays are
 * walked (class instances such as fastify's request go to their serializers); depth is bounded.
 */
import { scrubSecrets } from './secret-registry.js'

export const MAX_LOGGED_STRING = 4096
/** Scrub a little past the cap, so that a secret cut by it cannot leave its first characters. */
const SCRUB_MARGIN = 512
const MAX_DEPTH = 8
const MAX_CAUSES = 8

/** Fields that hold the code's own constant vocabulary: only trusted secrets are scrubbed there. */
const CONSTANT_KEYS: ReadonlySet<string> = new Set(['msg', 'code'])

export function scrubString(text: string, trustedOnly = false): string {
  if (text.length <= MAX_LOGGED_STRING) return scrubSecrets(text, trustedOnly)
  const kept = scrubSecrets(text.slice(0, MAX_LOGGED_STRING + SCRUB_MARGIN), trustedOnly).slice(0, MAX_LOGGED_STRING)
  return `${kept}…[truncated ${text.length - MAX_LOGGED_STRING} chars]`
}

export function scrubValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubString(value)
  if (value === null || typeof value !== 'object') return value
  if (value instanceof Error) return serializeError(value, depth)
  const proto = Object.getPrototypeOf(value) as unknown
  const isArray = Array.isArray(value)
  if (!isArray && proto !== Object.prototype && proto !== null) return value
  // The depth bound also ends cycles (pino prints an unchanged cycle as "[Circular]").
  if (depth >= MAX_DEPTH) return '[too deep]'
  // Copy on write: most log objects hold nothing to change, and are passed on as they are.
  if (isArray) {
    const list = value as unknown[]
    let out: unknown[] | undefined
    for (let i = 0; i < list.length; i++) {
      const v = scrubValue(list[i], depth + 1)
      if (v !== list[i]) (out ??= list.slice())[i] = v
    }
    return out ?? value
  }
  const obj = value as Record<string, unknown>
  let out: Record<string, unknown> | undefined
  for (const key in obj) {
    if (!Object.hasOwn(obj, key)) continue
    const raw = obj[key]
    const v = typeof raw === 'string' && CONSTANT_KEYS.has(key) ? scrubString(raw, true) : scrubValue(raw, depth + 1)
    if (v !== raw) (out ??= { ...obj })[key] = v
  }
  return out ?? value
}

/** pino's error shape ({ type, message, stack, …own fields }), scrubbed, capped, causes included. */
export function serializeError(err: Error, depth = 0, causes = 0): Record<string, unknown> {
  if (depth >= MAX_DEPTH) return { type: 'Error', message: '[too deep]' }
  const out: Record<string, unknown> = { type: safe(() => err.constructor?.name) ?? 'Error', message: scrubString(String(safe(() => err.message) ?? '')) }
  const stack = safe(() => err.stack)
  if (typeof stack === 'string') out.stack = scrubString(stack)
  for (const key of safe(() => Object.keys(err)) ?? []) {
    if (key === 'cause' || key === 'errors' || key in out) continue
    const v = safe(() => (err as unknown as Record<string, unknown>)[key])
    out[key] = typeof v === 'string' && CONSTANT_KEYS.has(key) ? scrubString(v, true) : scrubValue(v, depth + 1)
  }
  const cause = safe(() => err.cause)
  if (cause !== undefined) {
    out.cause = causes >= MAX_CAUSES ? '[more causes]' : cause instanceof Error ? serializeError(cause, depth + 1, causes + 1) : scrubValue(cause, depth + 1)
  }
  const errors = safe(() => (err as { errors?: unknown }).errors)
  if (Array.isArray(errors)) out.errors = errors.slice(0, 32).map((e) => (e instanceof Error ? serializeError(e, depth + 1, causes + 1) : scrubValue(e, depth + 1)))
  return out
}

/** A getter on a hostile error may throw: the log line is still written. */
function safe<T>(read: () => T): T | undefined {
  try {
    return read()
  } catch {
    return undefined
  }
}
