/**
 * Operator sessions of the HTTP API (POST /api/login): a random bearer token per login, of which
 * the store keeps only the SHA-256 (a copy of the store, a heap dump, gives no usable token).
 * A session ends when it has been idle for `idleMs`, `maxAgeMs` after its login whatever its use,
 * or at logout. At most `maxSessions` live at once: a new login drops expired ones first, then the
 * oldest, so a flood of logins costs memory in numbers. Sessions live in this process only (a
 * restart or another replica does not know them: the operator logs in again).
 *
 * Lookups go by the token's hash: the time a Map lookup takes depends on the hash, never on how
 * many characters of a guessed token were right, so guessing learns nothing from timing.
 */
import { createHash, randomBytes } from 'node:crypto'
import { registerSecret } from '../log/secret-registry.js'

export interface SessionLimits {
  readonly idleMs: number
  readonly maxAgeMs: number
  readonly maxSessions: number
}

export interface OperatorSession {
  readonly user: string
  readonly createdAt: number
  /** When the session ends at the latest (login + maxAgeMs). */
  readonly expiresAt: number
  lastSeen: number
  /** Set by logout or eviction: holders of the object (an open event stream) see it end. */
  ended?: true
}

/** 32 random bytes (256 bits), base64url, behind a prefix that says what it is when it leaks. */
const TOKEN = /^bps_[A-Za-z0-9_-]{43}$/

const digest = (token: string): string => createHash('sha256').update(token).digest('hex')

export class OperatorSessions {
  private readonly byHash = new Map<string, OperatorSession>()

  constructor(
    readonly limits: SessionLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new session for `user`; the token is returned once and only its hash is kept. */
  create(user: string): { token: string; session: OperatorSession } {
    const t = this.now()
    this.makeRoom(t)
    const token = `bps_${randomBytes(32).toString('base64url')}`
    // Scrubbed by value from every log line, whichever key or message it might reach.
    registerSecret(token)
    const session: OperatorSession = { user, createdAt: t, expiresAt: t + this.limits.maxAgeMs, lastSeen: t }
    this.byHash.set(digest(token), session)
    return { token, session }
  }

  /** The live session of a token (its idle clock restarted), or undefined. */
  use(token: string): OperatorSession | undefined {
    if (!TOKEN.test(token)) return undefined
    const key = digest(token)
    const s = this.byHash.get(key)
    if (!s) return undefined
    const t = this.now()
    if (this.expired(s, t)) {
      this.byHash.delete(key)
      return undefined
    }
    s.lastSeen = t
    return s
  }

  /** Ends a token's session; false when there was none (or it had already expired). */
  end(token: string): boolean {
    if (!TOKEN.test(token)) return false
    const key = digest(token)
    const s = this.byHash.get(key)
    this.byHash.delete(key)
    if (!s) return false
    const wasLive = !this.expired(s, this.now())
    s.ended = true
    return wasLive
  }

  /**
   * Whether a session found earlier is still live, counting this as use (a long-lived request such
   * as the event stream checks it before every write, so logout or the absolute lifetime ends it).
   */
  stillLive(s: OperatorSession): boolean {
    const t = this.now()
    if (this.expired(s, t)) return false
    s.lastSeen = t
    return true
  }

  get size(): number {
    return this.byHash.size
  }

  private expired(s: OperatorSession, t: number): boolean {
    return s.ended === true || t >= s.expiresAt || t - s.lastSeen >= this.limits.idleMs
  }

  private makeRoom(t: number): void {
    if (this.byHash.size < this.limits.maxSessions) return
    for (const [k, s] of this.byHash) if (this.expired(s, t)) this.byHash.delete(k)
    // Still full: the oldest login goes (Map keeps insertion order).
    while (this.byHash.size >= this.limits.maxSessions) {
      const [k, s] = this.byHash.entries().next().value!
      s.ended = true
      this.byHash.delete(k)
    }
  }
}
