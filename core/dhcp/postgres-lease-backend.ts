/**
 * The shared lease backend: full mode on several replicas over one PostgreSQL database (tables of
 * lease-migrations.ts, statements through the state backend's pool). The database, not timing,
 * settles every race: an offer is a row under UNIQUE(addr) (a DISCOVER that loses an address to
 * another replica retries with the next one); a REQUEST is checked against the stored lease, and
 * its commit (one transaction per group commit, bp_dhcp_commit) refuses it when another client
 * bound the address meanwhile. Offers are holds written at once; bindings, releases and declines
 * become durable only through commit(), so an ACK follows its COMMIT. Unreachable database: every
 * call rejects with BP_ERR_STATE_UNAVAILABLE (the REQUEST gets no ACK, the DISCOVER no offer).
 */
import { randomInt } from 'node:crypto'
import { BootpolicyError, messageOf } from '../errors/bp-error.js'
import type { PostgresStateBackend } from '../state/postgres-backend.js'
import { intToIp, ipToInt } from './ipv4.js'
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

/** DISCOVERs that lose their candidate to another replica try again this often before giving up. */
const OFFER_ATTEMPTS = 8
const PRUNE_MS = 30_000
const UNIQUE_VIOLATION = '23505'

export class PostgresLeaseBackend implements LeaseBackend {
  private readonly start: number
  private readonly end: number
  private readonly now: () => number
  /** Addresses no dynamic client may get: excluded ones and every reservation. */
  private readonly blocked: string[]
  private seq = 0
  /** Declines: change → the decliner's key (its own record on the address goes). */
  private readonly decliners = new WeakMap<LeaseChange, string>()
  private offersHeld = 0
  private pruneTimer: NodeJS.Timeout | undefined

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

  /** Reservation, then the client's previous address, then its requested one, then any free one. */
  async reserve(c: OfferClaim): Promise<string | undefined> {
    if (c.fixed !== undefined) return (await this.hold(c, c.fixed, true)) ? c.fixed : undefined
    const previous = (await this.db.query<LeaseRow>('SELECT * FROM bp_dhcp_leases WHERE key = $1', [c.key])).rows[0]
    if (previous && previous.state !== 'declined') {
      const ip = intToIp(Number(previous.addr))
      if ((await this.usableBy(ip, c.key, c.mac)) && (await this.hold(c, ip, false))) return ip
    }
    if (c.requested !== undefined && (await this.usableBy(c.requested, c.key, c.mac)) && (await this.hold(c, c.requested, false))) return c.requested
    for (let attempt = 0; attempt < OFFER_ATTEMPTS; attempt++) {
      const ip = (await this.freeAddress(c.key)) ?? (await this.oldestOfferOfOthers(c.key))
      if (ip === undefined) return undefined
      if (await this.hold(c, ip, false)) return ip
    }
    return undefined
  }

  /** Can `key` be offered `ip`? Reservations, excluded addresses, live leases and live offers of others say no. */
  private async usableBy(ip: string, key: string, mac: string): Promise<boolean> {
    const n = ipToInt(ip)
    const reservedFor = this.opts.reserved.get(n)
    if (reservedFor !== undefined) return reservedFor === mac
    if (n < this.start || n > this.end || this.opts.excluded.has(n)) return false
    const { rows } = await this.db.query(
      `SELECT 1 FROM bp_dhcp_leases WHERE addr = $1 AND key <> $2 AND state <> 'released' AND expires_at > $3
       UNION ALL SELECT 1 FROM bp_dhcp_offers WHERE addr = $1 AND key <> $2 AND expires_at > $3`,
      [n, key, this.now()],
    )
    return rows.length === 0
  }

  /** A pool address nobody holds, never-used ones first, from a random point (replicas rarely pick the same one). */
  private async freeAddress(key: string): Promise<string | undefined> {
    const size = this.end - this.start + 1
    const { rows } = await this.db.query<{ a: string }>(
      `SELECT a FROM generate_series($1::bigint, $2::bigint) AS a
       LEFT JOIN bp_dhcp_leases l ON l.addr = a
       WHERE a <> ALL($3::bigint[])
         AND (l.addr IS NULL OR l.key = $4 OR l.state = 'released' OR l.expires_at <= $5)
         AND NOT EXISTS (SELECT 1 FROM bp_dhcp_offers o WHERE o.addr = a AND o.key <> $4 AND o.expires_at > $5)
       ORDER BY l.addr IS NOT NULL, (a - $1 + $6) % $7
       LIMIT 1`,
      [this.start, this.end, this.blocked, key, this.now(), randomInt(size), size],
    )
    return rows[0] && intToIp(Number(rows[0].a))
  }

  /** The pool is full but for offers: the oldest offer of another client gives way (offers never exhaust the pool). */
  private async oldestOfferOfOthers(key: string): Promise<string | undefined> {
    const { rows } = await this.db.query<{ addr: string }>(
      `DELETE FROM bp_dhcp_offers WHERE key = (
         SELECT o.key FROM bp_dhcp_offers o LEFT JOIN bp_dhcp_leases l ON l.addr = o.addr AND l.key <> o.key
         WHERE o.key <> $1 AND o.addr <> ALL($2::bigint[]) AND (l.addr IS NULL OR l.state = 'released' OR l.expires_at <= $3)
         ORDER BY o.expires_at LIMIT 1)
       RETURNING addr`,
      [key, this.blocked, this.now()],
    )
    return rows[0] && intToIp(Number(rows[0].addr))
  }

  /**
   * Stores the offer of `ip` to the client: its MAC's other offers and an expired offer on `ip`
   * give way. False when another client's live offer holds `ip` (UNIQUE(addr) settled it), unless
   * `force` (a reservation: only its owner may hold it).
   */
  private async hold(c: OfferClaim, ip: string, force: boolean): Promise<boolean> {
    const n = ipToInt(ip)
    const now = this.now()
    await this.db.query(`DELETE FROM bp_dhcp_offers WHERE key <> $1 AND (mac = $2 OR (addr = $3 AND (expires_at <= $4 OR $5)))`, [c.key, c.mac, n, now, force])
    try {
      // The client's offer of another replica on the same address is taken over (same client, same address).
      await this.db.query(
        `WITH mine AS (DELETE FROM bp_dhcp_offers WHERE key = $1 AND addr = $3 AND server <> $5 RETURNING key)
         INSERT INTO bp_dhcp_offers (key, server, addr, mac, expires_at) SELECT $1, $5, $3, $2, $4 FROM (SELECT count(*) FROM mine) AS gone
         ON CONFLICT (key, server) DO UPDATE SET addr = EXCLUDED.addr, mac = EXCLUDED.mac, expires_at = EXCLUDED.expires_at`,
        [c.key, c.mac, n, now + c.holdMs, this.opts.server],
      )
    } catch (err) {
      if (codeOf(err) === UNIQUE_VIOLATION) return false
      throw err
    }
    this.offersHeld++
    return true
  }

  async bind(c: BindClaim): Promise<LeaseChange | undefined> {
    const n = ipToInt(c.ip)
    const reservedFor = this.opts.reserved.get(n)
    if (reservedFor !== undefined ? reservedFor !== c.mac : n < this.start || n > this.end || this.opts.excluded.has(n)) return undefined
    const { rows } = await this.db.query<LeaseRow>('SELECT * FROM bp_dhcp_leases WHERE addr = $1 OR key = $2', [n, c.key])
    const now = this.now()
    const at = rows.find((r) => Number(r.addr) === n)
    if (at && at.key !== c.key && at.state !== 'released' && Number(at.expires_at) > now) return undefined
    const current = rows.find((r) => r.key === c.key)
    const kept = c.renewal && current && Number(current.addr) === n && current.state === 'bound' && current.bound_at !== null ? Number(current.bound_at) : undefined
    const lease: Lease = {
      ip: c.ip,
      mac: c.mac,
      key: c.key,
      state: 'bound',
      expiresAt: now + c.leaseMs,
      boundAt: c.renewal ? (kept ?? 0) : now,
      ...(c.hostname ? { hostname: c.hostname } : {}),
    }
    return this.change(lease)
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
      hostname: c.lease.hostname ?? null,
      state: c.lease.state,
      expiresAt: c.lease.expiresAt,
      boundAt: c.lease.boundAt ?? null,
      from: this.decliners.get(c) ?? null,
    }))
    const { rows } = await this.db.query<{ refused: number[] }>('SELECT bp_dhcp_commit($1::jsonb, $2) AS refused', [JSON.stringify(payload), this.now()])
    const refused = new Set(rows[0]?.refused ?? [])
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

function codeOf(err: unknown): string | undefined {
  const direct = (err as { code?: unknown })?.code
  if (typeof direct === 'string' && /^[0-9A-Z]{5}$/.test(direct)) return direct
  const cause = (err as { cause?: { code?: unknown } })?.cause?.code
  return typeof cause === 'string' ? cause : undefined
}
