/**
 * Failed-login limits, per claimed username and per client address, applied by the plugin host
 * before any authenticate hook runs: while a key is limited no backend is called (a PAM failure
 * holds a libuv worker ~2 s; an LDAP or Kerberos server should not take password guessing either).
 *
 * Fixed windows: the first failure of a key opens a window of `windowMs`; `max` failures in it
 * limit the key until the window ends. A successful login resets the user's counter (not the
 * address's: one good password must not buy an address 20 more guesses at other accounts).
 * Counters live in an LRU bounded to `maxKeys` entries, so a flood of invented usernames costs
 * memory in numbers, not without bound (the per-address limit still applies to such a flood). A
 * window that has reached its limit moves out of that LRU into a map of its own (at most
 * `maxLimitedKeys`, expired windows dropped first, then the oldest), so that such a flood cannot
 * evict a limited user's window and reset the user's counter. IPv6 clients are counted by their
 * /64 (address-key.ts).
 *
 * Parallel bursts: an attempt is RESERVED (`begin`) before its backend call and counts against
 * both limits while in flight, so 100 guesses sent at once reach a backend at most `perUser` times
 * per user and `perAddress` times per address. The outcome then settles the reservation: a refusal
 * becomes a failure, a success resets the user, an outage counts nothing; the reservation ends
 * when the backend call really ends (after a hook timeout, later than the answer to the client). In-flight
 * counts live in a plain map that holds only keys with an attempt under way (never evicted, so a
 * flood of other keys cannot erase them) and is bounded by the requests the server is serving.
 */
import { LRUCache } from 'lru-cache'
import { addressKey } from './address-key.js'

export interface LoginLimits {
  /** Failed attempts per username within the window. */
  readonly perUser: number
  /** Failed attempts per client address within the window. */
  readonly perAddress: number
  readonly windowMs: number
  /** Keys remembered at most (users + addresses) while under their limit. */
  readonly maxKeys: number
  /** Keys at or over their limit remembered at most (never evicted by keys under it). */
  readonly maxLimitedKeys: number
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { perUser: 5, perAddress: 20, windowMs: 5 * 60_000, maxKeys: 10_000, maxLimitedKeys: 10_000 }

interface Window {
  count: number
  readonly resetAt: number
}

export interface LimitVerdict {
  /** Seconds until the key that is limited may try again (rounded up, at least 1). */
  readonly retryInS: number
  readonly key: 'user' | 'address'
  /** Limited only because attempts are still in flight (no window has filled yet). */
  readonly busy?: true
}

/**
 * One reserved attempt. `failed` or `succeeded` records its outcome (the first call counts);
 * `release` ends the reservation — call it once the backend call has really ended, which after a
 * hook timeout is later than the answer to the client.
 */
export interface LoginAttempt {
  /** The backend refused the password: one failure for the user and the address. */
  failed(): void
  /** A good password: the user's failures are cleared. */
  succeeded(): void
  /** The attempt is no longer in flight. */
  release(): void
}

export class LoginLimiter {
  readonly limits: LoginLimits
  private readonly windows: LRUCache<string, Window>
  /** Windows that reached their limit, oldest first: out of reach of the LRU's eviction. */
  private readonly limited = new Map<string, Window>()
  private readonly inFlight = new Map<string, number>()

  constructor(
    limits: Partial<LoginLimits> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.limits = { ...DEFAULT_LOGIN_LIMITS, ...limits }
    for (const [k, v] of Object.entries(this.limits)) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`login limits: ${k} must be a positive integer, got ${String(v)}`)
    }
    this.windows = new LRUCache({ max: this.limits.maxKeys })
  }

  /** undefined when the attempt may go to a backend; otherwise which key is limited and for how long. */
  check(username: string, address: string): LimitVerdict | undefined {
    const verdicts = [this.verdict('user', `u:${username.toLowerCase()}`, this.limits.perUser), this.verdict('address', `a:${addressKey(address)}`, this.limits.perAddress)].filter(
      (v): v is LimitVerdict => v !== undefined,
    )
    return verdicts.sort((a, b) => b.retryInS - a.retryInS)[0]
  }

  /**
   * Check and reserve in one step (no await between them): either the verdict that limits the
   * attempt, or the attempt, counted as in flight until it is settled.
   */
  begin(username: string, address: string): { limited: LimitVerdict } | { attempt: LoginAttempt } {
    const limited = this.check(username, address)
    if (limited) return { limited }
    const userKey = `u:${username.toLowerCase()}`
    const addrKey = `a:${addressKey(address)}`
    this.hold(userKey, 1)
    this.hold(addrKey, 1)
    let decided = false
    let released = false
    const once = (fn: () => void) => () => {
      if (decided) return
      decided = true
      fn()
    }
    return {
      attempt: {
        failed: once(() => this.failed(username, address)),
        succeeded: once(() => this.succeeded(username)),
        release: () => {
          if (released) return
          released = true
          this.hold(userKey, -1)
          this.hold(addrKey, -1)
        },
      },
    }
  }

  /** Attempts in flight for a user (for tests and metrics). */
  inFlightFor(username: string): number {
    return this.inFlight.get(`u:${username.toLowerCase()}`) ?? 0
  }

  private verdict(key: 'user' | 'address', id: string, max: number): LimitVerdict | undefined {
    const w = this.live(id)
    const failures = w?.count ?? 0
    const pending = this.inFlight.get(id) ?? 0
    if (failures + pending < max) return undefined
    const t = this.now()
    // Failures alone fill the window: wait for it. Otherwise in-flight attempts decide soon.
    if (w && failures >= max) return { key, retryInS: secondsUntil(w.resetAt, t) }
    return { key, retryInS: 1, busy: true }
  }

  private hold(key: string, delta: number): void {
    const n = (this.inFlight.get(key) ?? 0) + delta
    if (n > 0) this.inFlight.set(key, n)
    else this.inFlight.delete(key)
  }

  /** Count one refused attempt against the user and the address. */
  failed(username: string, address: string): void {
    this.bump(`u:${username.toLowerCase()}`, this.limits.perUser)
    this.bump(`a:${addressKey(address)}`, this.limits.perAddress)
  }

  /** A good password clears the user's failures. */
  succeeded(username: string): void {
    this.windows.delete(`u:${username.toLowerCase()}`)
    this.limited.delete(`u:${username.toLowerCase()}`)
  }

  private live(key: string): Window | undefined {
    const w = this.limited.get(key) ?? this.windows.get(key)
    if (w && w.resetAt <= this.now()) {
      this.limited.delete(key)
      this.windows.delete(key)
      return undefined
    }
    return w
  }

  private bump(key: string, max: number): void {
    let w = this.live(key)
    if (w) w.count++
    else this.windows.set(key, (w = { count: 1, resetAt: this.now() + this.limits.windowMs }))
    if (w.count >= max && !this.limited.has(key)) {
      this.windows.delete(key)
      this.keepLimited(key, w)
    }
  }

  private keepLimited(key: string, w: Window): void {
    if (this.limited.size >= this.limits.maxLimitedKeys) {
      const t = this.now()
      for (const [k, v] of this.limited) if (v.resetAt <= t) this.limited.delete(k)
      // Still full: the oldest limited window goes (it ends first).
      if (this.limited.size >= this.limits.maxLimitedKeys) this.limited.delete(this.limited.keys().next().value!)
    }
    this.limited.set(key, w)
  }
}

function secondsUntil(at: number, now: number): number {
  return Math.max(1, Math.ceil((at - now) / 1000))
}

/** The reason policies see in ctx.auth.reason while limited. */
export function limitedReason(verdict: LimitVerdict): string {
  if (verdict.busy) return `too many login attempts in progress, retry in ${verdict.retryInS} s`
  return `too many failed attempts, retry in ${verdict.retryInS} s`
}
