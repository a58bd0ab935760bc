/**
 * The secrets this process knows it holds (CHAP secrets it generated, passwords it was sent), so
 * that the logger can scrub them from anything it writes: messages, error causes and stacks,
 * whichever key they sit under. Redaction by key (logger.ts) misses a secret that a failing
 * command echoed into its error message; scrubbing by value does not.
 *
 * Bounded: the newest 4,096 secrets are kept (an LRU), each at least 4 characters long (shorter
 * strings would scrub ordinary words).
 */
import { LRUCache } from 'lru-cache'

const MIN_LENGTH = 4
const secrets = new LRUCache<string, true>({ max: 4096 })
let pattern: RegExp | undefined

/** Remember a secret so that no log line can carry it. Call it before the secret is used. */
export function registerSecret(value: string | undefined | null): void {
  if (typeof value !== 'string' || value.length < MIN_LENGTH || secrets.has(value)) return
  secrets.set(value, true)
  pattern = undefined
}

export function hasSecrets(): boolean {
  return secrets.size > 0
}

/** `text` with every registered secret replaced by `[redacted]`. */
export function scrubSecrets(text: string): string {
  if (secrets.size === 0 || text.length < MIN_LENGTH) return text
  pattern ??= new RegExp([...secrets.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp).join('|'), 'g')
  return text.replace(pattern, '[redacted]')
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
