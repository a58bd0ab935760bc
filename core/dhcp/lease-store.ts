/**
 * The lease table of full mode: address pool, leases and offers in memory. Every decision is
 * synchronous on these maps, so each one is atomic; making them durable is the job of the backend
 * around the table (file-lease-backend.ts: a journal with group commit), which this file knows
 * nothing of. Sized for ≤ 65,536 addresses.
 *
 * Ownership (Kea's rule): a lease belongs to one client key; decline and release touch only the
 * caller's own lease. Offers are bounded so a flood of DISCOVERs cannot hold the pool: at most
 * `maxOffers` at once (the oldest gives way), one per MAC, and an offer never blocks another
 * client's REQUEST or a DISCOVER that finds the pool otherwise full.
 */
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
  /** `bound`: when the ACK that the client may ARP-check was sent (SELECTING, INIT-REBOOT); renewals keep it. */
  readonly boundAt?: number
}

export interface LeaseStoreOptions {
  readonly poolStart: string
  readonly poolEnd: string
  /** Reserved address (as int) → canonical MAC. */
  readonly reserved: ReadonlyMap<number, string>
  /** Addresses never handed out (the server's own, the router). */
  readonly excluded: ReadonlySet<number>
  readonly inSubnet: (ip: string) => boolean
  /** Most offers held at once; a new one beyond it drops the oldest. */
  readonly maxOffers: number
  readonly now?: () => number
}

export class LeaseStore {
  private readonly byKey = new Map<string, Lease>()
  private readonly byIp = new Map<number, Lease>()
  /** Outstanding offers by key, oldest first (Map keeps insertion order). */
  private readonly offers = new Map<string, Lease>()
  /** MAC → the key holding its one offer. */
  private readonly offerByMac = new Map<string, string>()
  private readonly start: number
  private readonly end: number
  private readonly now: () => number
  private cursor: number

  constructor(private readonly opts: LeaseStoreOptions) {
    this.start = ipToInt(opts.poolStart)
    this.end = ipToInt(opts.poolEnd)
    this.cursor = this.start
    this.now = opts.now ?? Date.now
  }

  /** Puts back a stored record (file or database); false when it does not fit the config and is dropped. */
  restore(item: unknown): boolean {
    const lease = typeof item === 'object' && item !== null ? this.validLease(item as Record<string, unknown>) : undefined
    if (lease) this.put(lease)
    return lease !== undefined
  }

  private validLease(item: Record<string, unknown>): Lease | undefined {
    const { ip, mac, key, hostname, state, expiresAt, boundAt } = item
    if (typeof ip !== 'string' || !isIpv4(ip) || !this.opts.inSubnet(ip)) return undefined
    if (state !== 'bound' && state !== 'released' && state !== 'declined') return undefined
    if (typeof key !== 'string' || typeof expiresAt !== 'number' || typeof mac !== 'string') return undefined
    if (state !== 'declined' && normalizeMac(mac) === undefined) return undefined
    return { ip, mac, key, state, expiresAt, ...(typeof hostname === 'string' ? { hostname } : {}), ...(typeof boundAt === 'number' ? { boundAt } : {}) }
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

  /** Can `key` (with `mac`) be offered `ip` now? Reservations, live leases of others and declines say no. */
  usableBy(ip: string, key: string, mac: string): boolean {
    return this.freeFor(ip, key, mac, false)
  }

  /**
   * Can `key` be bound to `ip` (a REQUEST)? As usableBy, except that another client's offer does
   * not block: the first REQUEST wins, so offers a flood holds cannot refuse a real client.
   */
  bindableBy(ip: string, key: string, mac: string): boolean {
    return this.freeFor(ip, key, mac, true)
  }

  private freeFor(ip: string, key: string, mac: string, offersYield: boolean): boolean {
    const n = ipToInt(ip)
    const reservedFor = this.opts.reserved.get(n)
    if (reservedFor !== undefined) return reservedFor === mac
    if (!this.inPool(ip) || this.opts.excluded.has(n)) return false
    const lease = this.byIp.get(n)
    if (!lease || lease.key === key) return true
    if (offersYield && lease.state === 'offered') return true
    return !this.isLive(lease)
  }

  private isLive(lease: Lease): boolean {
    if (lease.state === 'released') return false
    return lease.expiresAt > this.now()
  }

  /**
   * A free pool address: first one never used, else the one whose old lease is not live, else the
   * address of the oldest offer held for another client (offers never exhaust the pool).
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
    for (const [holder, lease] of this.offers) {
      if (holder === key || this.opts.reserved.has(ipToInt(lease.ip))) continue
      this.remove(lease)
      return lease.ip
    }
    return undefined
  }

  /** Offers held now (expired ones included until they are replaced). */
  offerCount(): number {
    return this.offers.size
  }

  /**
   * Holds `ip` for `key` while the client decides; an already bound lease stays bound. A MAC holds
   * one offer (a new client id on the same MAC replaces it), and past maxOffers the oldest goes.
   */
  offer(key: string, mac: string, ip: string, holdMs: number, hostname?: string): void {
    const current = this.byKey.get(key)
    if (current?.ip === ip && current.state === 'bound' && this.isLive(current)) return
    const sameMac = this.offerByMac.get(mac)
    if (sameMac !== undefined && sameMac !== key) this.remove(this.offers.get(sameMac)!)
    this.put({ ip, mac, key, state: 'offered', expiresAt: this.now() + holdMs, ...(hostname ? { hostname } : {}) })
    for (const oldest of this.offers.values()) {
      if (this.offers.size <= this.opts.maxOffers) break
      this.remove(oldest)
    }
  }

  /** `renewal`: a RENEWING/REBINDING REQUEST (no ARP check follows), which keeps boundAt. */
  bind(key: string, mac: string, ip: string, leaseMs: number, hostname?: string, renewal = false): Lease {
    const current = this.byKey.get(key)
    const kept = renewal && current?.ip === ip && current.state === 'bound' ? current.boundAt : undefined
    const boundAt = renewal ? (kept ?? 0) : this.now()
    const lease: Lease = { ip, mac, key, state: 'bound', expiresAt: this.now() + leaseMs, boundAt, ...(hostname ? { hostname } : {}) }
    this.put(lease)
    return lease
  }

  /** The client gave the address back; the record stays so the client gets it again next time. */
  release(key: string, ip: string): Lease | undefined {
    const lease = this.byKey.get(key)
    if (!lease || lease.ip !== ip || lease.state !== 'bound') return undefined
    const released: Lease = { ...lease, state: 'released', expiresAt: this.now() }
    this.put(released)
    return released
  }

  /**
   * The client found `ip` in use (ARP): keep the address out of the pool for `ms`. Only the
   * client holding `ip` (a live offer or binding under `key`) can decline it, and a binding only
   * within `windowMs` of the ACK it checks (clients ARP right after it); false otherwise.
   */
  decline(key: string, ip: string, ms: number, windowMs: number): Lease | undefined {
    const lease = this.byKey.get(key)
    if (!lease || lease.ip !== ip || (lease.state !== 'bound' && lease.state !== 'offered') || !this.isLive(lease)) return undefined
    if (lease.state === 'bound' && this.now() - (lease.boundAt ?? 0) > windowMs) return undefined
    this.remove(lease)
    const declined: Lease = { ip, mac: '', key: `declined:${ip}`, state: 'declined', expiresAt: this.now() + ms }
    this.put(declined)
    return declined
  }

  /** Drops an offer the client turned down (it chose another server). */
  forgetOffer(key: string): void {
    const lease = this.byKey.get(key)
    if (lease?.state === 'offered') this.remove(lease)
  }

  list(): Lease[] {
    return [...this.byIp.values()].map((l) => ({ ...l }))
  }

  /** What must survive a restart: every lease but the offers (the records themselves, not copies). */
  durable(): Lease[] {
    const out: Lease[] = []
    for (const l of this.byIp.values()) if (l.state !== 'offered') out.push(l)
    return out
  }

  private put(lease: Lease): void {
    const old = this.byKey.get(lease.key)
    if (old) this.remove(old)
    const other = this.byIp.get(ipToInt(lease.ip))
    if (other) this.remove(other)
    this.byKey.set(lease.key, lease)
    this.byIp.set(ipToInt(lease.ip), lease)
    if (lease.state === 'offered') {
      this.offers.set(lease.key, lease)
      this.offerByMac.set(lease.mac, lease.key)
    }
  }

  private remove(lease: Lease): void {
    if (this.byKey.get(lease.key) === lease) this.byKey.delete(lease.key)
    const n = ipToInt(lease.ip)
    if (this.byIp.get(n) === lease) this.byIp.delete(n)
    if (this.offers.get(lease.key) === lease) {
      this.offers.delete(lease.key)
      if (this.offerByMac.get(lease.mac) === lease.key) this.offerByMac.delete(lease.mac)
    }
  }
}
