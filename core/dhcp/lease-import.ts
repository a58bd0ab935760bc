/**
 * `bootpolicy state import` for DHCP leases: the files backend's lease file (lease-journal.ts) into
 * the shared tables (lease-migrations.ts), so that replicas on PostgreSQL keep every client's
 * address across the upgrade. The file is read as the files backend restores it (later records
 * replace earlier ones per client and per address); live bindings and declines are imported with
 * their expiry, expired and released ones are skipped.
 *
 * Never overwrites: a lease goes in by INSERT … ON CONFLICT DO NOTHING, one statement per lease,
 * so a run killed half-way leaves whole rows and the next run completes it. The database's live
 * record of the same client on the same address (as imported, or renewed since) is "already
 * there"; any other live record
 * of that client or of that address is a conflict (an address held by another client is never a
 * second lease). A record the database holds that has expired or was released gives way, as it
 * does for a DHCP commit (bp_dhcp_commit).
 */
import { BootpolicyError, messageOf } from '../errors/bp-error.js'
import type { KindReport } from '../state/import-report.js'
import type { PostgresStateBackend } from '../state/postgres-backend.js'
import { intToIp, ipToInt } from './ipv4.js'
import { readJournal } from './lease-journal.js'
import { type Lease, LeaseStore } from './lease-store.js'

interface Row extends Record<string, unknown> {
  key: string
  addr: string
  mac: string
  hostname: string | null
  state: string
  expires_at: string
  bound_at: string | null
}

/** The file's live leases (bound or declined, not expired) and how many records were left behind. */
export async function liveLeases(file: string, now: number): Promise<{ live: Lease[]; skipped: number }> {
  let records: unknown[] | undefined
  try {
    records = await readJournal(file)
  } catch (err) {
    throw new BootpolicyError('BP_ERR_DHCP_STATE', { file, action: 'read', details: messageOf(err) }, { cause: err })
  }
  // The table restores as the files backend does; the pool and subnet are the replica's business.
  const table = new LeaseStore({ poolStart: '0.0.0.0', poolEnd: '0.0.0.0', reserved: new Map(), excluded: new Set(), inSubnet: () => true, maxOffers: 0, now: () => now })
  let dropped = 0
  for (const r of records ?? []) if (!table.restore(r)) dropped++
  const all = table.durable()
  const live = all.filter((l) => (l.state === 'bound' || l.state === 'declined') && l.expiresAt > now)
  return { live, skipped: dropped + all.length - live.length }
}

function label(l: Lease): string {
  return l.state === 'declined' ? `${l.ip} (declined)` : `${l.ip} ${l.key}`
}

function sameLease(r: Row, l: Lease): boolean {
  return (
    r.key === l.key &&
    Number(r.addr) === ipToInt(l.ip) &&
    r.mac === l.mac &&
    r.state === l.state &&
    Number(r.expires_at) === l.expiresAt &&
    (r.hostname ?? undefined) === l.hostname &&
    (r.bound_at === null ? undefined : Number(r.bound_at)) === l.boundAt
  )
}

function isLive(r: Row, now: number): boolean {
  return r.state !== 'released' && Number(r.expires_at) > now
}

function classify(rows: readonly Row[], l: Lease, now: number, report: KindReport): void {
  const mine = rows.find((r) => r.key === l.key)
  // The same client on the same address: imported before (a replica may have renewed it since).
  if (mine && (sameLease(mine, l) || (Number(mine.addr) === ipToInt(l.ip) && mine.state === l.state && isLive(mine, now)))) {
    report.unchanged.push(label(l))
    return
  }
  const other = rows.find((r) => r.key !== l.key && isLive(r, now))
  if (other) report.conflicts.push({ item: label(l), why: `the address is held by another client in the database (${other.key}; kept the database's)` })
  else if (mine) report.conflicts.push({ item: label(l), why: `the database holds another lease for this client (${intToIp(Number(mine.addr))}; kept the database's)` })
  else report.conflicts.push({ item: label(l), why: 'the database changed during the import (run it again)' })
}

export async function importLeases(db: PostgresStateBackend, file: string, report: KindReport, options: { dryRun: boolean; now: number }): Promise<KindReport> {
  const { now, dryRun } = options
  const { live, skipped } = await liveLeases(file, now)
  report.skipped += skipped
  for (const l of live) {
    const addr = ipToInt(l.ip)
    const lookup = async (): Promise<Row[]> => (await db.query<Row>('SELECT * FROM bp_dhcp_leases WHERE key = $1 OR addr = $2', [l.key, addr])).rows
    if (dryRun) {
      const rows = await lookup()
      if (rows.every((r) => !isLive(r, now))) report.imported.push(label(l))
      else classify(rows, l, now, report)
      continue
    }
    await db.query(`DELETE FROM bp_dhcp_leases WHERE (key = $1 OR addr = $2) AND (state = 'released' OR expires_at <= $3)`, [l.key, addr, now])
    const { rows } = await db.query(
      `INSERT INTO bp_dhcp_leases (key, addr, mac, hostname, state, expires_at, bound_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT DO NOTHING RETURNING key`,
      [l.key, addr, l.mac, l.hostname ?? null, l.state, l.expiresAt, l.boundAt ?? null],
    )
    if (rows.length === 0) {
      classify(await lookup(), l, now, report)
      continue
    }
    // As a DHCP commit of a binding does: offers of others on the address give way.
    if (l.state === 'bound') await db.query('DELETE FROM bp_dhcp_offers WHERE addr = $1 AND key <> $2', [addr, l.key])
    report.imported.push(label(l))
  }
  return report
}
