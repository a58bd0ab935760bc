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

export function scrubString(text: string): string {
  if (text.length <= MAX_LOGGED_STRING) return scrubSecrets(text)
  const kept = scrubSecrets(text.slice(0, MAX_LOGGED_STRING + SCRUB_MARGIN)).slice(0, MAX_LOGGED_STRING)
  return `${kept}…[truncated ${text.length - MAX_LOGGED_STRING} chars]`
}

export function scrubValue(value: unknown, depth = 0, seen?: Set<object>): unknown {
  if (typeof value === 'string') return scrubString(value)
  if (value === null || typeof value !== 'object') return value
  if (value instanceof Error) return serializeError(value, depth, seen)
  const proto = Object.getPrototypeOf(value) as unknown
  const isArray = Array.isArray(value)
  if (!isArray && proto !== Object.prototype && proto !== null) return value
  if (depth >= MAX_DEPTH) return '[too deep]'
  seen ??= new Set()
  if (seen.has(value)) return '[circular]'
  seen.add(value)
  try {
    if (isArray) return (value as unknown[]).map((v) => scrubValue(v, depth + 1, seen))
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(value)) out[key] = scrubValue((value as Record<string, unknown>)[key], depth + 1, seen)
    return out
  } finally {
    seen.delete(value)
  }
}

/** pino's error shape ({ type, message, stack, …own fields }), scrubbed, capped, causes included. */
export function serializeError(err: Error, depth = 0, seen?: Set<object>, causes = 0): Record<string, unknown> {
  seen ??= new Set()
  if (seen.has(err)) return { type: 'Circular', message: '[circular]' }
  seen.add(err)
  try {
    const out: Record<string, unknown> = { type: safe(() => err.constructor?.name) ?? 'Error', message: scrubString(String(safe(() => err.message) ?? '')) }
    const stack = safe(() => err.stack)
    if (typeof stack === 'string') out.stack = scrubString(stack)
    for (const key of safe(() => Object.keys(err)) ?? []) {
      if (key === 'cause' || key === 'errors' || key in out) continue
      out[key] = scrubValue(safe(() => (err as unknown as Record<string, unknown>)[key]), depth + 1, seen)
    }
    const cause = safe(() => err.cause)
    if (cause !== undefined) {
      out.cause = causes >= MAX_CAUSES ? '[more causes]' : cause instanceof Error ? serializeError(cause, depth + 1, seen, causes + 1) : scrubValue(cause, depth + 1, seen)
    }
    const errors = safe(() => (err as { errors?: unknown }).errors)
    if (Array.isArray(errors)) out.errors = errors.slice(0, 32).map((e) => (e instanceof Error ? serializeError(e, depth + 1, seen, causes + 1) : scrubValue(e, depth + 1, seen)))
    return out
  } finally {
    seen.delete(err)
  }
}

/** A getter on a hostile error may throw: the log line is still written. */
function safe<T>(read: () => T): T | undefined {
  try {
    return read()
  } catch {
    return undefined
  }
}
