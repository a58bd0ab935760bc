/**
 * What full mode needs from a lease store, as an async interface, so that a shared database
 * (PostgreSQL, for several servers side by side) can implement it next to the embedded file store
 * (file-lease-backend.ts). Decisions (reserve, bind, release, decline) are atomic per call and
 * visible to later lookups at once; they become durable only through `commit(batch)`, which the
 * service calls through group-commit.ts with every change decided while the previous write ran.
 * An ACK is sent only after the commit holding its change has resolved.
 */
import type { Lease } from './lease-store.js'

export type { Lease, LeaseState } from './lease-store.js'

/** One decided change, as it must be stored: the lease record after the change. */
export interface LeaseChange {
  readonly lease: Lease
  /** Order of decision; a batch is stored in this order. */
  readonly seq: number
}

/** A DISCOVER: pick an address for the client and hold it as an offer. */
export interface OfferClaim {
  readonly key: string
  readonly mac: string
  readonly holdMs: number
  readonly hostname?: string
  /** The client's reservation: offered as is. */
  readonly fixed?: string
  /** Option 50, already checked to lie in the subnet. */
  readonly requested?: string
}

/** A REQUEST: bind `ip` to the client if nobody else holds it. */
export interface BindClaim {
  readonly key: string
  readonly mac: string
  readonly ip: string
  readonly leaseMs: number
  readonly hostname?: string
  /** RENEWING/REBINDING (no ARP check follows): keeps the decline window shut. */
  readonly renewal: boolean
}

export interface LeaseBackend {
  /** Restores the stored leases; an unreadable or unwritable store is an error (BP_ERR_DHCP_STATE). */
  load(): Promise<void>
  byClient(key: string): Promise<Lease | undefined>
  byAddress(ip: string): Promise<Lease | undefined>
  /** The offered address, or undefined when the pool has none for this client. */
  reserve(claim: OfferClaim): Promise<string | undefined>
  /**
   * The change to commit, or undefined when `ip` cannot be bound to this client. A shared store may
   * leave the check against other clients' leases to commit(), which then refuses the change.
   */
  bind(claim: BindClaim): Promise<LeaseChange | undefined>
  /** The client's own bound lease on `ip` is given back; undefined when it holds none. */
  release(key: string, ip: string): Promise<LeaseChange | undefined>
  /** The client's own offer or fresh binding on `ip` is in use elsewhere; undefined when refused. */
  decline(key: string, ip: string, ms: number, windowMs: number): Promise<LeaseChange | undefined>
  /** The client chose another server: drop its offer (offers are never stored). */
  forgetOffer(key: string): Promise<void>
  /**
   * Makes the changes durable; rejects when that cannot be promised for every one of them. A
   * shared store resolves with the changes it refused because another client holds the address
   * (the rest are durable); those clients get a NAK.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: the embedded store refuses nothing.
  commit(batch: readonly LeaseChange[]): Promise<void | ReadonlySet<LeaseChange>>
  list(): Promise<Lease[]>
  /** Offers held now (tests, metrics). */
  offerCount(): number
  close(): Promise<void>
}
