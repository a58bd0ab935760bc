/**
 * The secrets this process knows it holds (CHAP secrets it generated, passwords it was sent), so
 * that the logger can scrub them from anything it writes: messages, error causes and stacks,
 * whichever key they sit under. Redaction by key (logger.ts) misses a secret that a failing
 * command echoed into its error message; scrubbing by value does not.
 *
 * Two tiers, so that clients cannot push the server's own secrets out:
 * - `registerSecret` (plugins, CHAP accounts): the newest 4,096 are kept (an LRU);
 * - `registerRequestSecret` (passwords sent to /boot, which anybody can send): their own LRU of
 *   1,024, each forgotten after 10 minutes (longer than any hook or backend timeout).
 * Each secret is at least 4 characters long (shorter strings would scrub ordinary words). A
 * client's password is not scrubbed from the log's constant vocabulary (see scrubSecrets).
 */
import { LRUCache } from 'lru-cache'

const MIN_LENGTH = 4
const REQUEST_SECRET_TTL_MS = 10 * 60_000
const secrets = new LRUCache<string, true>({ max: 4096 })
const requestSecrets = new LRUCache<string, true>({ max: 1024, ttl: REQUEST_SECRET_TTL_MS, ttlAutopurge: false })
let pattern: RegExp | undefined
let trustedPattern: RegExp | undefined
let patternSize = -1

/** Remember a secret so that no log line can carry it. Call it before the secret is used. */
export function registerSecret(value: string | undefined | null): void {
  if (typeof value !== 'string' || value.length < MIN_LENGTH || secrets.has(value)) return
  secrets.set(value, true)
  pattern = undefined
  trustedPattern = undefined
}

/** A password a client sent: scrubbed from logs for a while, in a tier of its own. */
export function registerRequestSecret(value: string | undefined | null): void {
  if (typeof value !== 'string' || value.length < MIN_LENGTH) return
  for (const form of new Set([value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1)])) {
    if (form.length < MIN_LENGTH || secrets.has(form)) continue
    if (!requestSecrets.has(form)) pattern = undefined
    requestSecrets.set(form, true)
  }
}

export function hasSecrets(): boolean {
  return secrets.size > 0 || requestSecrets.size > 0
}

/**
 * `text` with every registered secret replaced by `[redacted]`. `trustedOnly` leaves out the
 * passwords clients sent: for the log's constant vocabulary (`msg`, `code`), which never holds a
 * password, and which a client must not blank by sending `BPSEC002` or `decision` as its password.
 */
export function scrubSecrets(text: string, trustedOnly = false): string {
  if (text.length < MIN_LENGTH) return text
  if (trustedOnly || requestSecrets.size === 0) {
    if (secrets.size === 0) return text
    trustedPattern ??= patternOf([...secrets.keys()])
    return text.replace(trustedPattern, '[redacted]')
  }
  // Expired request secrets leave the pattern the next time it is rebuilt.
  if (patternSize !== secrets.size + requestSecrets.size) pattern = undefined
  if (!pattern) {
    const all = [...secrets.keys(), ...requestSecrets.keys()]
    patternSize = secrets.size + requestSecrets.size
    if (all.length === 0) return text
    pattern = patternOf(all)
  }
  return text.replace(pattern, '[redacted]')
}

function patternOf(values: string[]): RegExp {
  return new RegExp(values.sort((a, b) => b.length - a.length).map(escapeRegExp).join('|'), 'g')
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
