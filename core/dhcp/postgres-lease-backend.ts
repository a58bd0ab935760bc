/**
 * The shared lease backend: full mode on several replicas over one PostgreSQL database (tables of
 * lease-migrations.ts, statements through the state backend's pool). The database, not timing,
 * settles every race. A DORA is two statements, each shared by a burst: the DISCOVER joins the
 * next call of bp_dhcp_offer_many (call-batcher.ts; each claim the address chosen in
 * allocation-order.ts's order and held as a row under UNIQUE(addr); a DISCOVER that loses an
 * address to another replica retries with the next one inside the call; committed without waiting
 * for the WAL flush), unless this replica bound the client within the last minute (reserve); the
 * REQUEST none of its own: its change joins the group commit (one transaction, bp_dhcp_commit),
 * which refuses it when another client holds the address. Offers are holds written at once;
 * bindings, releases and declines become durable only through commit(), so an ACK follows its
 * COMMIT. Unreachable database: the DISCOVER gets no offer and the commit rejects with
 * BP_ERR_STATE_UNAVAILABLE (the REQUEST gets no ACK).
 */
import { randomInt } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { BootpolicyError, messageOf } from '../errors/bp-error.js'
import type { PostgresStateBackend } from '../state/postgres-backend.js'
import { createCallBatcher } from './call-batcher.js'
import { intToIp, ipToInt } from './ipv4.js'
import { ALLOCATION_ORDER } from './allocation-order.js'
import type { BindClaim, LeaseBackend, LeaseChange, OfferClaim } from './lease-backend.js'
import type { Lease, LeaseStoreOptions } from './lease-store.js'

export type PostgresLeaseBackendOptions = Omit<LeaseStoreOptions, 'maxOffers'> & {
  /** This replica's server identifier: its offers are its own rows. */
  readonly server: string
}

interface LeaseRow extends Record<string, unknown> {
  key: string
  addr: string
  mac: string
  hostname: string | null
  state: Lease['state']
  expires_at: string
  bound_at: string | null
}

interface OfferRow extends Record<string, unknown> {
  key: string
  addr: string
  mac: string
  expires_at: string
}

const PRUNE_MS = 30_000
/** DISCOVERs per bp_dhcp_offer_many call: bounds how long one batch holds its offers' locks. */
const OFFER_BATCH = 32
/**
 * How long a lease this replica committed answers its client's next DISCOVER without a round trip
 * (a netbooting machine asks two or three times within a minute: PXE ROM, iPXE, the OS), and how
 * many such leases it remembers (about 200 bytes each).
 */
export const RECENT_LEASE_MS = 60_000
export const RECENT_LEASES = 10_000

/** A binding this replica made durable: what the DISCOVER shortcut of bp_dhcp_offer_many reads. */
interface RecentLease {
  readonly addr: number
  readonly expiresAt: number
  readonly committedAt: number
}

export class PostgresLeaseBackend implements LeaseBackend {
  private readonly start: number
  private readonly end: number
  private readonly now: () => number
  /** Addresses no dynamic client may get: excluded ones and every reservation. */
  private readonly blocked: string[]
  private seq = 0
  /** Declines: change → the decliner's key (its own record on the address goes). */
  private readonly decliners = new WeakMap<LeaseChange, string>()
  /** Renewals: their boundAt is the stored binding's, looked up by the commit. */
  private readonly renewals = new WeakSet<LeaseChange>()
  private offersHeld = 0
  private pruneTimer: NodeJS.Timeout | undefined
  /** Leases this replica committed lately, by client key (see reserve). */
  private readonly recent = new LRUCache<string, RecentLease>({ max: RECENT_LEASES })
  private readonly offers = createCallBatcher<OfferClaim, string | undefined>((claims) => this.offerBatch(claims), OFFER_BATCH)

  constructor(
    private readonly db: PostgresStateBackend,
    private readonly opts: PostgresLeaseBackendOptions,
  ) {
    this.start = ipToInt(opts.poolStart)
    this.end = ipToInt(opts.poolEnd)
    this.now = opts.now ?? Date.now
    this.blocked = [...new Set([...opts.excluded, ...opts.reserved.keys()])].map(String)
  }

  /** Checks that the `dhcp` tables exist (the migration ran) and starts pruning expired offers. */
  async load(): Promise<void> {
    try {
      await this.db.query('SELECT 1 FROM bp_dhcp_leases LIMIT 1', [])
      await this.db.query('SELECT 1 FROM bp_dhcp_offers LIMIT 1', [])
    } catch (err) {
      throw new BootpolicyError('BP_ERR_DHCP_STATE', { file: `${this.db.connection.display} (bp_dhcp_leases)`, action: 'read', details: messageOf(err) }, { cause: err })
    }
    this.pruneTimer = setInterval(() => {
      this.db.query('DELETE FROM bp_dhcp_offers WHERE expires_at <= $1', [this.now()]).catch(() => undefined)
    }, PRUNE_MS)
    this.pruneTimer.unref()
  }

  async byClient(key: string): Promise<Lease | undefined> {
    const { rows } = await this.db.query<LeaseRow>('SELECT * FROM bp_dhcp_leases WHERE key = $1', [key])
    if (rows[0]) return toLease(rows[0])
    const offers = await this.db.query<OfferRow>('SELECT * FROM bp_dhcp_offers WHERE key = $1 ORDER BY expires_at DESC LIMIT 1', [key])
    return offers.rows[0] && offerLease(offers.rows[0])
  }

  async byAddress(ip: string): Promise<Lease | undefined> {
    const { rows } = await this.db.query<LeaseRow>('SELECT * FROM bp_dhcp_leases WHERE addr = $1', [ipToInt(ip)])
    if (rows[0]) return toLease(rows[0])
    const offers = await this.db.query<OfferRow>('SELECT * FROM bp_dhcp_offers WHERE addr = $1', [ipToInt(ip)])
    return offers.rows[0] && offerLease(offers.rows[0])
  }

  /**
   * Joins the next bp_dhcp_offer_many call (lease-migrations.ts version 4): each claim asks the
   * steps of allocation-order.ts in order and holds the address it finds, a race lost on
   * UNIQUE(addr) retried inside it. `origin`: where the pool search starts, random so replicas
   * rarely collide.
   */
  reserve(c: OfferClaim): Promise<string | undefined> {
    // Not while the database is known to be down: no OFFER whose REQUEST could not be ACKed.
    const recent = c.fixed === undefined && this.db.available ? this.recentLease(c) : undefined
    if (recent !== undefined) {
      this.offersHeld++
      return Promise.resolve(intToIp(recent))
    }
    return this.offers.submit(c)
  }

  /**
   * The DISCOVER of a client whose binding this replica committed within RECENT_LEASE_MS: its
   * address, as bp_dhcp_offer_many's first step would find it (still bound past the hold, in the
   * pool, not blocked), without asking the database. Another replica may have changed that lease
   * since (a release, a decline through it): the REQUEST's commit checks the address in the
   * database as always and refuses it then (a NAK), and a refused change forgets the entry.
   */
  private recentLease(c: OfferClaim): number | undefined {
    const r = this.recent.get(c.key)
    if (r === undefined) return undefined
    const now = this.now()
    if (now - r.committedAt > RECENT_LEASE_MS || r.expiresAt <= now + c.holdMs || !this.dynamic(r.addr) || this.opts.reserved.has(r.addr)) {
      this.recent.delete(c.key)
      return undefined
    }
    return r.addr
  }

  /** One statement for every DISCOVER of a batch (call-batcher.ts): their addresses, in order. */
  private async offerBatch(claims: readonly OfferClaim[]): Promise<(string | undefined)[]> {
    const size = this.end - this.start + 1
    const payload = claims.map((c) => ({
      key: c.key,
      mac: c.mac,
      fixed: c.fixed !== undefined ? ipToInt(c.fixed) : null,
      requested: c.requested !== undefined ? ipToInt(c.requested) : null,
      origin: randomInt(size),
      holdMs: c.holdMs,
    }))
    const { rows } = await this.db.query<{ addrs: (string | null)[] }>('SELECT bp_dhcp_offer_many($1::jsonb, $2::text[], $3, $4, $5, $6::bigint[], $7) AS addrs', [
      JSON.stringify(payload),
      ALLOCATION_ORDER,
      this.opts.server,
      this.start,
      this.end,
      this.blocked,
      this.now(),
    ])
    const addrs = rows[0]?.addrs ?? []
    return claims.map((_, i) => {
      const addr = addrs[i]
      if (addr === null || addr === undefined) return undefined
      this.offersHeld++
      return intToIp(Number(addr))
    })
  }

  /**
   * No round trip: the checks that need the database (another client's live lease on `ip`, the
   * boundAt a renewal keeps) run in the commit's transaction (bp_dhcp_commit), which refuses the
   * change, and the REQUEST gets a NAK. A renewal's boundAt is the stored one, set there.
   */
  async bind(c: BindClaim): Promise<LeaseChange | undefined> {
    const n = ipToInt(c.ip)
    const reservedFor = this.opts.reserved.get(n)
    if (reservedFor !== undefined ? reservedFor !== c.mac : !this.dynamic(n)) return undefined
    const lease: Lease = {
      ip: c.ip,
      mac: c.mac,
      key: c.key,
      state: 'bound',
      expiresAt: this.now() + c.leaseMs,
      ...(c.renewal ? {} : { boundAt: this.now() }),
      ...(c.hostname ? { hostname: c.hostname } : {}),
    }
    const change = this.change(lease)
    if (c.renewal) this.renewals.add(change)
    return change
  }

  async release(key: string, ip: string): Promise<LeaseChange | undefined> {
    const { rows } = await this.db.query<LeaseRow>('SELECT * FROM bp_dhcp_leases WHERE key = $1', [key])
    const lease = rows[0] && toLease(rows[0])
    if (!lease || lease.ip !== ip || lease.state !== 'bound') return undefined
    return this.change({ ...lease, state: 'released', expiresAt: this.now() })
  }

  /** Only the holder of `ip` (a live offer, or a binding within `windowMs` of its ACK) may decline it. */
  async decline(key: string, ip: string, ms: number, windowMs: number): Promise<LeaseChange | undefined> {
    const n = ipToInt(ip)
    const now = this.now()
    const offer = await this.db.query('DELETE FROM bp_dhcp_offers WHERE key = $1 AND addr = $2 AND expires_at > $3 RETURNING key', [key, n, now])
    if (offer.rows.length === 0) {
      const { rows } = await this.db.query<LeaseRow>('SELECT * FROM bp_dhcp_leases WHERE key = $1 AND addr = $2', [key, n])
      const l = rows[0]
      const live = l?.state === 'bound' && Number(l.expires_at) > now
      if (!live || now - Number(l.bound_at ?? 0) > windowMs) return undefined
    }
    const change = this.change({ ip, mac: '', key: `declined:${ip}`, state: 'declined', expiresAt: now + ms })
    this.decliners.set(change, key)
    return change
  }

  async forgetOffer(key: string): Promise<void> {
    // The client chose another server: what it binds there is not this replica's to remember.
    this.recent.delete(key)
    await this.db.query('DELETE FROM bp_dhcp_offers WHERE key = $1', [key])
  }

  /** One statement, one transaction: every change in seq order; the refused ones come back. */
  async commit(batch: readonly LeaseChange[]): Promise<ReadonlySet<LeaseChange>> {
    const sorted = [...batch].sort((a, b) => a.seq - b.seq)
    const payload = sorted.map((c) => ({
      seq: c.seq,
      addr: ipToInt(c.lease.ip),
      key: c.lease.key,
      mac: c.lease.mac,
      // PostgreSQL text holds no NUL byte (jsonb refuses \u0000): one hostile option 12 would fail the whole batch.
      hostname: c.lease.hostname?.replaceAll('\0', '') ?? null,
      state: c.lease.state,
      expiresAt: c.lease.expiresAt,
      boundAt: c.lease.boundAt ?? null,
      from: this.decliners.get(c) ?? null,
      renewal: this.renewals.has(c),
    }))
    // Whatever the outcome, these clients' remembered leases are no longer the latest.
    for (const c of sorted) this.recent.delete(this.decliners.get(c) ?? c.lease.key)
    const { rows } = await this.db.query<{ refused: number[] }>('SELECT bp_dhcp_commit($1::jsonb, $2) AS refused', [JSON.stringify(payload), this.now()])
    const refused = new Set(rows[0]?.refused ?? [])
    const committedAt = this.now()
    sorted.forEach((c, i) => {
      if (c.lease.state === 'bound' && !refused.has(c.seq)) this.recent.set(c.lease.key, { addr: payload[i]!.addr, expiresAt: c.lease.expiresAt, committedAt })
    })
    return new Set(sorted.filter((c) => refused.has(c.seq)))
  }

  async list(): Promise<Lease[]> {
    const leases = await this.db.query<LeaseRow>('SELECT * FROM bp_dhcp_leases ORDER BY addr', [])
    const offers = await this.db.query<OfferRow>('SELECT * FROM bp_dhcp_offers WHERE expires_at > $1 ORDER BY addr', [this.now()])
    return [...leases.rows.map(toLease), ...offers.rows.map(offerLease)]
  }

  /** Offers this replica made since it started (the shared table holds every replica's). */
  offerCount(): number {
    return this.offersHeld
  }

  /** The database connection belongs to the state backend, which the runtime closes. */
  async close(): Promise<void> {
    clearInterval(this.pruneTimer)
  }

  /** In the pool and not excluded (reservations are checked by the caller). */
  private dynamic(n: number): boolean {
    return n >= this.start && n <= this.end && !this.opts.excluded.has(n)
  }

  private change(lease: Lease): LeaseChange {
    return { lease, seq: ++this.seq }
  }
}

function toLease(r: LeaseRow): Lease {
  return {
    ip: intToIp(Number(r.addr)),
    mac: r.mac,
    key: r.key,
    state: r.state,
    expiresAt: Number(r.expires_at),
    ...(r.hostname !== null ? { hostname: r.hostname } : {}),
    ...(r.bound_at !== null ? { boundAt: Number(r.bound_at) } : {}),
  }
}

function offerLease(r: OfferRow): Lease {
  return { ip: intToIp(Number(r.addr)), mac: r.mac, key: r.key, state: 'offered', expiresAt: Number(r.expires_at) }
}
