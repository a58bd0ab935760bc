/**
 * The embedded lease backend: the in-memory table (lease-store.ts) made durable by the journal
 * (lease-journal.ts) under the state directory. Every decision is taken synchronously on the table,
 * so it is atomic; commit(batch) appends the batch and fdatasyncs once. The service batches
 * commits (group-commit.ts), so this file never sees two writes at once.
 */
import { BootpolicyError, messageOf } from '../errors/bp-error.js'
import { chooseAddress } from './allocation-order.js'
import type { BindClaim, LeaseBackend, LeaseChange, OfferClaim } from './lease-backend.js'
import { LeaseJournal, readJournal } from './lease-journal.js'
import { LeaseStore, type Lease, type LeaseStoreOptions } from './lease-store.js'

export interface FileLeaseBackendOptions extends LeaseStoreOptions {
  readonly file: string
}

export class FileLeaseBackend implements LeaseBackend {
  /** The table; synchronous, for tests and for the backend's own decisions. */
  readonly table: LeaseStore
  private readonly journal: LeaseJournal
  private seq = 0

  constructor(private readonly opts: FileLeaseBackendOptions) {
    this.table = new LeaseStore(opts)
    this.journal = new LeaseJournal(opts.file)
  }

  /** Restores the file (a missing one is an empty state), then compacts it: a store that cannot be written fails here, at start. */
  async load(): Promise<void> {
    let records: unknown[] | undefined
    try {
      records = await readJournal(this.opts.file)
    } catch (err) {
      throw stateError(this.opts.file, 'read', err)
    }
    for (const r of records ?? []) this.table.restore(r)
    try {
      await this.journal.compact(this.table.durable())
    } catch (err) {
      throw stateError(this.opts.file, 'written', err)
    }
  }

  async byClient(key: string): Promise<Lease | undefined> {
    return this.table.forClient(key)
  }

  async byAddress(ip: string): Promise<Lease | undefined> {
    return this.table.at(ip)
  }

  /** The address allocation-order.ts picks, held as an offer (synchronous on the table, so atomic). */
  async reserve(c: OfferClaim): Promise<string | undefined> {
    const t = this.table
    const ip = chooseAddress(c, {
      reservation: (claim) => claim.fixed,
      previous: (claim) => {
        const previous = t.forClient(claim.key)
        return previous && previous.state !== 'declined' && t.usableBy(previous.ip, claim.key, claim.mac) ? previous.ip : undefined
      },
      requested: (claim) => (claim.requested !== undefined && t.usableBy(claim.requested, claim.key, claim.mac) ? claim.requested : undefined),
      pool: (claim) => t.allocate(claim.key, claim.mac),
    })
    if (ip !== undefined) t.offer(c.key, c.mac, ip, c.holdMs, c.hostname)
    return ip
  }

  async bind(c: BindClaim): Promise<LeaseChange | undefined> {
    if (!this.table.bindableBy(c.ip, c.key, c.mac)) return undefined
    return this.change(this.table.bind(c.key, c.mac, c.ip, c.leaseMs, c.hostname, c.renewal))
  }

  async release(key: string, ip: string): Promise<LeaseChange | undefined> {
    const lease = this.table.release(key, ip)
    return lease && this.change(lease)
  }

  async decline(key: string, ip: string, ms: number, windowMs: number): Promise<LeaseChange | undefined> {
    const lease = this.table.decline(key, ip, ms, windowMs)
    return lease && this.change(lease)
  }

  async forgetOffer(key: string): Promise<void> {
    this.table.forgetOffer(key)
  }

  async commit(batch: readonly LeaseChange[]): Promise<void> {
    const records = [...batch].sort((a, b) => a.seq - b.seq).map((c) => c.lease)
    try {
      await this.journal.append(records, () => this.table.durable())
    } catch (err) {
      throw stateError(this.opts.file, 'written', err)
    }
  }

  async list(): Promise<Lease[]> {
    return this.table.list()
  }

  offerCount(): number {
    return this.table.offerCount()
  }

  /** Appends and compactions that reached the disk. */
  get flushes(): number {
    return this.journal.flushes
  }

  async close(): Promise<void> {
    await this.journal.close()
  }

  private change(lease: Lease): LeaseChange {
    return { lease, seq: ++this.seq }
  }
}

function stateError(file: string, action: string, cause: unknown): BootpolicyError {
  return new BootpolicyError('BP_ERR_DHCP_STATE', { file, action, details: messageOf(cause) }, { cause })
}
