/**
 * The secrets this process knows it holds (CHAP secrets it generated, passwords it was sent), so
 * that the logger can scrub them from anything it writes: messages, error causes and stacks,
 * whichever key they sit under. Redaction by key (logger.ts) misses a secret that a failing
 * command echoed into its error message; scrubbing by value does not.
 *
 * Two tiers, so that clients cannot push the server's own secrets out, and so that nobody can buy
 * CPU time with registrations (each costs O(1): no pattern is rebuilt per secret):
 * - `registerSecret` (plugins, CHAP accounts): the newest 4,096 are kept (an LRU), scrubbed by one
 *   combined pattern. Secrets registered since that pattern was built are scrubbed with `indexOf`
 *   until it is rebuilt, at most once a second (and rebuilds take at most a tenth of the time).
 * - `holdRequestSecret` (a client's password, registered by the plugin host only once the login
 *   limiter has admitted the attempt, right before a backend sees it): held while the backend call
 *   runs (never evicted), then kept among the 64 newest for 60 s. Scrubbed with `indexOf` only.
 * Each secret is at least 4 characters long (shorter strings would scrub ordinary words). A
 * client's password is not scrubbed from the log's constant vocabulary (see scrubSecrets).
 */
import { LRUCache } from 'lru-cache'
import { escapeRegExp } from '../text/escape-regexp.js'

const MIN_LENGTH = 4
const MIN_REBUILD_EVERY_MS = 1000
const REQUEST_SECRET_TTL_MS = 60_000
const secrets = new LRUCache<string, true>({
  max: 4096,
  dispose: () => {
    evicted = true
  },
})
/** Registered since `trustedPattern` was built. */
let pending: string[] = []
let trustedPattern: RegExp | undefined
let builtAt = 0
let rebuildEveryMs = MIN_REBUILD_EVERY_MS
/** The indexOf list, sorted; undefined after a change, re-read every 5 s (`recent` expires on its own). */
let loose: string[] | undefined
let looseAt = 0
let evicted = false
/** Bumped whenever a secret is added: text scrubbed before then may hold it (decision-line.ts memos). */
let generation = 0
/** Passwords whose backend call is running, with how many attempts hold each. */
const held = new Map<string, number>()
/** Passwords whose backend call has ended, scrubbed a while longer. */
const recent = new LRUCache<string, true>({ max: 64, ttl: REQUEST_SECRET_TTL_MS, ttlAutopurge: false })

/** Remember a secret so that no log line can carry it. Call it before the secret is used. */
export function registerSecret(value: string | undefined | null): void {
  if (typeof value !== 'string' || value.length < MIN_LENGTH || secrets.has(value)) return
  secrets.set(value, true)
  pending.push(value)
  loose = undefined
  generation++
}

/** The spellings a password takes in a log line: raw, URL-encoded, JSON-escaped. */
function formsOf(value: string): string[] {
  return [...new Set([value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1)])].filter((f) => f.length >= MIN_LENGTH)
}

/**
 * A password a client sent, about to reach a backend: scrubbed from every log line until the
 * returned release is called (when the backend call has really ended) and for 60 s after.
 */
export function holdRequestSecret(value: string | undefined | null): () => void {
  if (typeof value !== 'string' || value.length < MIN_LENGTH) return () => {}
  const forms = formsOf(value)
  for (const f of forms) held.set(f, (held.get(f) ?? 0) + 1)
  loose = undefined
  generation++
  let released = false
  return () => {
    if (released) return
    released = true
    for (const f of forms) {
      const n = (held.get(f) ?? 1) - 1
      if (n > 0) held.set(f, n)
      else held.delete(f)
      recent.set(f, true)
    }
    loose = undefined
  }
}

/** Changes whenever a secret is added (removals only make earlier scrubbing stricter than needed). */
export function secretsGeneration(): number {
  return generation
}

export function hasSecrets(): boolean {
  return secrets.size > 0 || held.size > 0 || recent.size > 0
}

/** Secrets held and remembered right now (for tests and metrics). */
export function secretCounts(): { trusted: number; pending: number; requestHeld: number; requestRecent: number } {
  return { trusted: secrets.size, pending: pending.length, requestHeld: held.size, requestRecent: recent.size }
}

/**
 * `text` with every registered secret replaced by `[redacted]`. `trustedOnly` leaves out the
 * passwords clients sent: for the log's constant vocabulary (`msg`, `code`), which never holds a
 * password, and which a client must not blank by sending `BPSEC002` or `decision` as its password.
 */
export function scrubSecrets(text: string, trustedOnly = false): string {
  if (text.length < MIN_LENGTH) return text
  refreshPattern()
  // Every match of every secret is found in the original text and the union of their ranges is
  // replaced in one pass: one secret that contains another (or overlaps it) is blanked whole.
  const ranges: [number, number][] = []
  for (const s of trustedOnly ? pending : looseSorted()) {
    if (s.length > text.length) continue
    for (let at = text.indexOf(s); at !== -1; at = text.indexOf(s, at + 1)) ranges.push([at, at + s.length])
  }
  if (trustedPattern && secrets.size > 0) {
    trustedPattern.lastIndex = 0
    for (const m of text.matchAll(trustedPattern)) ranges.push([m.index, m.index + m[0].length])
  }
  if (ranges.length === 0) return text
  ranges.sort((a, b) => a[0] - b[0])
  let out = ''
  let from = 0
  let i = 0
  while (i < ranges.length) {
    let [start, end] = ranges[i++]!
    while (i < ranges.length && ranges[i]![0] <= end) end = Math.max(end, ranges[i++]![1])
    out += `${text.slice(from, start)}[redacted]`
    from = end
  }
  return out + text.slice(from)
}

function looseSorted(): readonly string[] {
  const now = Date.now()
  if (loose && now - looseAt < 5000) return loose
  loose = [...new Set([...pending, ...held.keys(), ...recent.keys()])].sort((a, b) => b.length - a.length)
  looseAt = now
  return loose
}

function refreshPattern(): void {
  if (pending.length === 0 && !evicted) return
  const now = Date.now()
  if (now - builtAt >= rebuildEveryMs) rebuild(now)
}

function rebuild(now: number): void {
  trustedPattern = patternOf([...secrets.keys()])
  pending = []
  loose = undefined
  evicted = false
  builtAt = Date.now()
  // Rebuilds take at most a tenth of the time (4,096 secrets: ~150 ms here, so every 1.5 s).
  rebuildEveryMs = Math.max(MIN_REBUILD_EVERY_MS, 10 * (builtAt - now))
}

function patternOf(values: string[]): RegExp {
  return new RegExp(
    values
      .sort((a, b) => b.length - a.length)
      .map(escapeRegExp)
      .join('|'),
    'g',
  )
}
