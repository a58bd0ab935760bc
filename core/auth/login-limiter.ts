/**
 * Failed-login limits, per claimed username and per client address, applied by the plugin host
 * before any authenticate hook runs: while a key is limited no backend is called (a PAM failure
 * holds a libuv worker ~2 s; an LDAP or Kerberos server should not take password guessing either).
 *
 * Fixed windows: the first failure of a key opens a window of `windowMs`; `max` failures in it
 * limit the key until the window ends. A successful login resets the user's counter (not the
 * address's: one good password must not buy an address 20 more guesses at other accounts).
 * Counters live in an LRU bounded to `maxKeys` entries, so a flood of invented usernames costs
 * memory in numbers, not without bound (the per-address limit still applies to such a flood).
 */
import { LRUCache } from 'lru-cache'

export interface LoginLimits {
  /** Failed attempts per username within the window. */
  readonly perUser: number
  /** Failed attempts per client address within the window. */
  readonly perAddress: number
  readonly windowMs: number
  /** Keys remembered at most (users + addresses). */
  readonly maxKeys: number
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { perUser: 5, perAddress: 20, windowMs: 5 * 60_000, maxKeys: 10_000 }

interface Window {
  count: number
  readonly resetAt: number
}

export interface LimitVerdict {
  /** Seconds until the key that is limited may try again (rounded up, at least 1). */
  readonly retryInS: number
  readonly key: 'user' | 'address'
}

export class LoginLimiter {
  readonly limits: LoginLimits
  private readonly windows: LRUCache<string, Window>

  constructor(limits: Partial<LoginLimits> = {}, private readonly now: () => number = Date.now) {
    this.limits = { ...DEFAULT_LOGIN_LIMITS, ...limits }
    for (const [k, v] of Object.entries(this.limits)) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`login limits: ${k} must be a positive integer, got ${String(v)}`)
    }
    this.windows = new LRUCache({ max: this.limits.maxKeys })
  }

  /** undefined when the attempt may go to a backend; otherwise which key is limited and for how long. */
  check(username: string, address: string): LimitVerdict | undefined {
    const user = this.live(`u:${username.toLowerCase()}`)
    const addr = this.live(`a:${address}`)
    const t = this.now()
    const verdicts: LimitVerdict[] = []
    if (user && user.count >= this.limits.perUser) verdicts.push({ key: 'user', retryInS: secondsUntil(user.resetAt, t) })
    if (addr && addr.count >= this.limits.perAddress) verdicts.push({ key: 'address', retryInS: secondsUntil(addr.resetAt, t) })
    return verdicts.sort((a, b) => b.retryInS - a.retryInS)[0]
  }

  /** Count one refused attempt against the user and the address. */
  failed(username: string, address: string): void {
    this.bump(`u:${username.toLowerCase()}`)
    this.bump(`a:${address}`)
  }

  /** A good password clears the user's failures. */
  succeeded(username: string): void {
    this.windows.delete(`u:${username.toLowerCase()}`)
  }

  private live(key: string): Window | undefined {
    const w = this.windows.get(key)
    if (w && w.resetAt <= this.now()) {
      this.windows.delete(key)
      return undefined
    }
    return w
  }

  private bump(key: string): void {
    const w = this.live(key)
    if (w) w.count++
    else this.windows.set(key, { count: 1, resetAt: this.now() + this.limits.windowMs })
  }
}

function secondsUntil(at: number, now: number): number {
  return Math.max(1, Math.ceil((at - now) / 1000))
}

/** The reason policies see in ctx.auth.reason while limited. */
export function limitedReason(verdict: LimitVerdict): string {
  return `too many failed attempts, retry in ${verdict.retryInS} s`
}
