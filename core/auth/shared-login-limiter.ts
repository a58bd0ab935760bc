/**
 * The failed-login limits shared by every replica, through the state backend's fixed-window
 * counters (one atomic `addToCounter` per key in PostgreSQL). The per-replica LoginLimiter keeps
 * running in front of it; this one makes a burst spread over several replicas count as one.
 *
 * An attempt is counted BEFORE its backend call (+1 on the user's and the address's window, in one
 * round trip each); over the limit it is taken back and refused, so across replicas at most
 * `perUser` attempts per user and `perAddress` per address reach a backend per window. A refusal
 * keeps the count; a success resets the user's window and takes the address's count back (a good
 * password does not count against the address); an outage of the authentication backend takes both
 * back. Keys are hashes of the lower-cased username and of the address key (a /64 for IPv6), so no
 * client-supplied text reaches a key. When the state database is unreachable `reserve` rejects
 * (BP_ERR_STATE_UNAVAILABLE) and the caller fails the login closed.
 */
import { createHash } from 'node:crypto'
import type { StateBackend } from '../state/state-backend.js'
import { addressKey } from './address-key.js'
import type { LimitVerdict, LoginAttempt, LoginLimits } from './login-limiter.js'

/** An attempt whose shared updates can be awaited (a success's reset, before the answer goes out). */
export interface SharedAttempt extends LoginAttempt {
  flush(): Promise<void>
}

export interface SharedLimiterLog {
  warn(obj: object, msg: string): void
}

function hashed(kind: 'u' | 'a', id: string): string {
  return `login:${kind}:${createHash('sha256').update(id).digest('hex').slice(0, 40)}`
}

export class SharedLoginLimiter {
  constructor(
    private readonly state: StateBackend,
    private readonly limits: LoginLimits,
    private readonly log?: SharedLimiterLog,
  ) {}

  async reserve(username: string, address: string): Promise<{ limited: LimitVerdict } | { attempt: SharedAttempt }> {
    const user = hashed('u', username.toLowerCase())
    const addr = hashed('a', addressKey(address))
    const w = this.limits.windowMs
    const [u, a] = await Promise.all([this.state.addToCounter(user, 1, w), this.state.addToCounter(addr, 1, w)])
    const overUser = u.count > this.limits.perUser
    const overAddr = a.count > this.limits.perAddress
    if (overUser || overAddr) {
      this.later(Promise.all([this.state.addToCounter(user, -1, w), this.state.addToCounter(addr, -1, w)]))
      const at = overUser && (!overAddr || u.resetAt >= a.resetAt) ? { key: 'user' as const, resetAt: u.resetAt } : { key: 'address' as const, resetAt: a.resetAt }
      return { limited: { key: at.key, retryInS: Math.max(1, Math.ceil((at.resetAt - Date.now()) / 1000)) } }
    }
    let decided = false
    let released = false
    let update: Promise<unknown> = Promise.resolve()
    return {
      attempt: {
        flush: () => update.then(() => undefined),
        failed: () => {
          decided = true
        },
        succeeded: () => {
          if (decided) return
          decided = true
          update = this.later(Promise.all([this.state.resetCounter(user), this.state.addToCounter(addr, -1, w)]))
        },
        release: () => {
          if (released) return
          released = true
          // Neither refused nor accepted: the backend was out, which is not the client's fault.
          if (!decided) this.later(Promise.all([this.state.addToCounter(user, -1, w), this.state.addToCounter(addr, -1, w)]))
        },
      },
    }
  }

  private later(p: Promise<unknown>): Promise<unknown> {
    return p.catch((err: unknown) => this.log?.warn({ err: { code: (err as { code?: string }).code, message: (err as Error).message } }, 'shared login counter not updated'))
  }
}
