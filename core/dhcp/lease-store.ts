/**
 * Address pool and leases for full mode. All decisions are synchronous on in-memory maps; only
 * commit() is async, and it writes the whole state as JSON (temp file + fsync + rename + directory
 * fsync), so after a crash the file is either the old or the new state, never half of one.
 * Commits are grouped: clients acknowledged in the same burst share one write. Whole-file rewrites
 * suit the sizes this service is for (≤ 65,536 addresses; ~1 ms per 1,000 leases).
 */
import { readFile } from 'node:fs/promises'
import { writeFileAtomic } from '../state/atomic-file.js'
import { BootpolicyError, messageOf } from '../errors/bp-error.js'
import { normalizeMac } from '../context/normalize-mac.js'
import { intToIp, ipToInt, isIpv4 } from './ipv4.js'

export type LeaseState = 'offered' | 'bound' | 'released' | 'declined'

export interface Lease {
  readonly ip: string
  /** Canonical MAC; empty for a declined address nobody holds. */
  readonly mac: string
  /** `id:<hex>` (option 61) or `mac:<mac>`; `declined:<ip>` for declined addresses. */
  readonly key: string
  readonly hostname?: string
  readonly state: LeaseState
  /** Epoch milliseconds. For `declined`: until when the address stays out of the pool. */
  readonly expiresAt: number
}

export interface LeaseStoreOptions {
  readonly file: string
  readonly poolStart: string
  readonly poolEnd: string
  /** Reserved address (as int) → canonical MAC. */
  readonly reserved: ReadonlyMap<number, string>
  /** Addresses never handed out (the server's own, the router). */
  readonly excluded: ReadonlySet<number>
  readonly inSubnet: (ip: string) => boolean
  readonly now?: () => number
}

const STATE_VERSION = 1

export class LeaseStore {
  private readonly byKey = new Map<string, Lease>()
  private readonly byIp = new Map<number, Lease>()
  private readonly start: number
  private readonly end: number
  private readonly now: () => number
  private cursor: number
  private version = 0
  private savedVersion = 0
  private writing: Promise<void> | undefined

  constructor(private readonly opts: LeaseStoreOptions) {
    this.start = ipToInt(opts.poolStart)
    this.end = ipToInt(opts.poolEnd)
    this.cursor = this.start
    this.now = opts.now ?? Date.now
  }

  /** Restores the state file; a missing file means no leases, an unreadable one is an error. */
  async load(): Promise<void> {
    let raw: string
    try {
      raw = await readFile(this.opts.file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw stateError(this.opts.file, 'read', err)
    }
    let parsed: { version?: unknown; leases?: unknown }
    try {
      parsed = JSON.parse(raw) as typeof parsed
    } catch (err) {
      throw stateError(this.opts.file, 'read', err)
    }
    if (parsed.version !== STATE_VERSION || !Array.isArray(parsed.leases)) {
      throw stateError(this.opts.file, 'read', new Error(`expected {"version":${STATE_VERSION},"leases":[...]}`))
    }
    for (const item of parsed.leases as Array<Record<string, unknown>>) {
      const lease = this.validLease(item)
      if (lease) this.put(lease)
    }
    this.savedVersion = this.version
  }

  private validLease(item: Record<string, unknown>): Lease | undefined {
    const { ip, mac, key, hostname, state, expiresAt } = item
    if (typeof ip !== 'string' || !isIpv4(ip) || !this.opts.inSubnet(ip)) return undefined
    if (state !== 'bound' && state !== 'released' && state !== 'declined') return undefined
    if (typeof key !== 'string' || typeof expiresAt !== 'number' || typeof mac !== 'string') return undefined
    if (state !== 'declined' && normalizeMac(mac) === undefined) return undefined
    return { ip, mac, key, state, expiresAt, ...(typeof hostname === 'string' ? { hostname } : {}) }
  }

  forClient(key: string): Lease | undefined {
    return this.byKey.get(key)
  }

  at(ip: string): Lease | undefined {
    return this.byIp.get(ipToInt(ip))
  }

  inPool(ip: string): boolean {
    const n = ipToInt(ip)
    return n >= this.start && n <= this.end
  }

  /** Can `key` (with `mac`) use `ip` now? Reservations, live leases of others and declines say no. */
  usableBy(ip: string, key: string, mac: string): boolean {
    const n = ipToInt(ip)
    const reservedFor = this.opts.reserved.get(n)
    if (reservedFor !== undefined) return reservedFor === mac
    if (!this.inPool(ip) || this.opts.excluded.has(n)) return false
    const lease = this.byIp.get(n)
    if (!lease || lease.key === key) return true
    return !this.isLive(lease)
  }

  private isLive(lease: Lease): boolean {
    if (lease.state === 'released') return false
    return lease.expiresAt > this.now()
  }

  /**
   * A free pool address: first one never used, else the one whose old lease is not live.
   * At most two passes over the pool, so exhaustion costs one bounded scan, never a spin.
   */
  allocate(key: string, mac: string): string | undefined {
    const size = this.end - this.start + 1
    for (let i = 0; i < size; i++) {
      const n = this.start + ((this.cursor - this.start + i) % size)
      if (!this.byIp.has(n) && !this.opts.reserved.has(n) && !this.opts.excluded.has(n)) {
        this.cursor = n + 1 > this.end ? this.start : n + 1
        return intToIp(n)
      }
    }
    for (let n = this.start; n <= this.end; n++) {
      const ip = intToIp(n)
      if (this.usableBy(ip, key, mac)) return ip
    }
    return undefined
  }

  /** Holds `ip` for `key` while the client decides; an already bound lease stays bound. */
  offer(key: string, mac: string, ip: string, holdMs: number, hostname?: string): void {
    const current = this.byKey.get(key)
    if (current?.ip === ip && current.state === 'bound' && this.isLive(current)) return
    this.put({ ip, mac, key, state: 'offered', expiresAt: this.now() + holdMs, ...(hostname ? { hostname } : {}) })
  }

  bind(key: string, mac: string, ip: string, leaseMs: number, hostname?: string): Lease {
    const lease: Lease = { ip, mac, key, state: 'bound', expiresAt: this.now() + leaseMs, ...(hostname ? { hostname } : {}) }
    this.put(lease)
    this.version++
    return lease
  }

  /** The client gave the address back; the record stays so the client gets it again next time. */
  release(key: string, ip: string): boolean {
    const lease = this.byKey.get(key)
    if (!lease || lease.ip !== ip || lease.state !== 'bound') return false
    this.put({ ...lease, state: 'released', expiresAt: this.now() })
    this.version++
    return true
  }

  /** The client found `ip` in use (ARP): keep the address out of the pool for `ms`. */
  decline(key: string, ip: string, ms: number): void {
    if (this.byKey.get(key)?.ip === ip) this.byKey.delete(key)
    this.put({ ip, mac: '', key: `declined:${ip}`, state: 'declined', expiresAt: this.now() + ms })
    this.version++
  }

  /** Drops an offer the client turned down (it chose another server). */
  forgetOffer(key: string): void {
    const lease = this.byKey.get(key)
    if (lease?.state === 'offered') this.remove(lease)
  }

  list(): Lease[] {
    return [...this.byIp.values()].map((l) => ({ ...l }))
  }

  private put(lease: Lease): void {
    const old = this.byKey.get(lease.key)
    if (old) this.remove(old)
    const other = this.byIp.get(ipToInt(lease.ip))
    if (other) this.remove(other)
    this.byKey.set(lease.key, lease)
    this.byIp.set(ipToInt(lease.ip), lease)
  }

  private remove(lease: Lease): void {
    if (this.byKey.get(lease.key) === lease) this.byKey.delete(lease.key)
    const n = ipToInt(lease.ip)
    if (this.byIp.get(n) === lease) this.byIp.delete(n)
  }

  /** Resolves once every change made before the call is on disk. */
  async commit(): Promise<void> {
    const target = this.version
    while (this.savedVersion < target) {
      if (!this.writing) this.writing = this.write().finally(() => { this.writing = undefined })
      await this.writing
    }
  }

  private async write(): Promise<void> {
    const version = this.version
    const leases = [...this.byIp.values()].filter((l) => l.state !== 'offered')
    const body = JSON.stringify({ version: STATE_VERSION, leases }, null, 0)
    const file = this.opts.file
    try {
      await writeFileAtomic(file, body)
    } catch (err) {
      throw stateError(file, 'written', err)
    }
    this.savedVersion = Math.max(this.savedVersion, version)
  }
}

function stateError(file: string, action: string, cause: unknown): BootpolicyError {
  return new BootpolicyError('BP_ERR_DHCP_STATE', { file, action, details: messageOf(cause) }, { cause })
}
