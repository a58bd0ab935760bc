/**
 * The PostgreSQL lease backend on a real PostgreSQL 15 (test/helpers/postgres.ts); several
 * backends on one database are several replicas. What it must never do: give one address to two
 * clients, whoever races; acknowledge (resolve a commit for) a change the database did not store;
 * lose a committed lease when PostgreSQL crashes. A renewal at another replica keeps the address.
 */
import t from 'tap'
import type { PostgresLeaseBackend } from '../../../core/dhcp/postgres-lease-backend.js'
import { createGroupCommit, RefusedChange } from '../../../core/dhcp/group-commit.js'
import type { LeaseChange } from '../../../core/dhcp/lease-backend.js'
import { createDatabase } from '../../helpers/postgres.js'
import { openLeaseReplica, testMac } from '../../helpers/pg-lease-replica.js'

const mac = testMac
const HOUR = 3_600_000

const replica = openLeaseReplica

/** DISCOVER, REQUEST, commit through a group commit: the address acknowledged, or undefined. */
async function dora(b: PostgresLeaseBackend, submit: (c: LeaseChange) => Promise<void>, i: number): Promise<string | undefined> {
  const key = `mac:${mac(i)}`
  const ip = await b.reserve({ key, mac: mac(i), holdMs: 30_000 })
  if (!ip) return undefined
  const change = await b.bind({ key, mac: mac(i), ip, leaseMs: HOUR, renewal: false })
  if (!change) return undefined
  try {
    await submit(change)
    return ip
  } catch (err) {
    if (err instanceof RefusedChange) return undefined
    throw err
  }
}

t.test('a lease committed at one replica is seen, renewed and released at another', async (t) => {
  const db = await createDatabase(t)
  const a = await replica(t, db)
  const b = await replica(t, db)
  const key = `mac:${mac(1)}`
  const ip = await a.reserve({ key, mac: mac(1), holdMs: 30_000, requested: '10.0.0.50' })
  t.equal(ip, '10.0.0.50', 'the requested address is offered when free')
  t.equal((await b.byAddress('10.0.0.50'))?.state, 'offered', 'the offer is visible to the other replica at once')
  t.equal(
    await b.reserve({ key: `mac:${mac(2)}`, mac: mac(2), holdMs: 30_000, requested: '10.0.0.50' }).then((x) => x === '10.0.0.50'),
    false,
    "another client is not offered an address held by someone's live offer",
  )
  // A client that heard both replicas holds both offers: neither address is free for someone else.
  const other = await b.reserve({ key: `mac:${mac(7)}`, mac: mac(7), holdMs: 30_000, requested: '10.0.0.70' })
  const both = await a.reserve({ key: `mac:${mac(7)}`, mac: mac(7), holdMs: 30_000, requested: '10.0.0.71' })
  t.same([other, both], ['10.0.0.70', '10.0.0.71'])
  t.same(
    (await a.list())
      .filter((l) => l.key === `mac:${mac(7)}`)
      .map((l) => l.ip)
      .sort(),
    ['10.0.0.70', '10.0.0.71'],
    "both replicas' offers to one client are held",
  )
  t.not(await a.reserve({ key: `mac:${mac(8)}`, mac: mac(8), holdMs: 30_000, requested: '10.0.0.70' }), '10.0.0.70', "nobody else is offered the other replica's offer")
  const bound = await a.bind({ key, mac: mac(1), ip: ip!, leaseMs: HOUR, renewal: false })
  t.same(await a.commit([bound!]), new Set(), 'nothing refused')
  t.equal((await b.byClient(key))?.state, 'bound', 'the binding is in the database')
  const thief = await b.bind({ key: `mac:${mac(2)}`, mac: mac(2), ip: '10.0.0.50', leaseMs: HOUR, renewal: false })
  t.same(await b.commit([thief!]), new Set([thief]), "another client's REQUEST for the bound address is refused by the commit")
  const renewal = await b.bind({ key, mac: mac(1), ip: '10.0.0.50', leaseMs: 2 * HOUR, renewal: true })
  t.ok(renewal, 'the renewal at the other replica is accepted')
  t.same(await b.commit([renewal!]), new Set())
  t.equal((await a.byClient(key))?.boundAt, bound!.lease.boundAt, 'a renewal keeps the stored boundAt (the decline window stays shut)')
  t.not((await a.byClient(`mac:${mac(2)}`))?.state, 'bound', 'the refused change stored no binding')
  t.equal(await a.reserve({ key, mac: mac(1), holdMs: 30_000 }), '10.0.0.50', 'a DISCOVER of the same client gets its address back')
  const released = await a.release(key, '10.0.0.50')
  t.same(await a.commit([released!]), new Set())
  t.equal((await b.byClient(key))?.state, 'released')
  t.equal(await b.release(key, '10.0.0.50'), undefined, 'a second release finds no bound lease')
})

t.test('reservations, exclusions and declines', async (t) => {
  const db = await createDatabase(t)
  const a = await replica(t, db)
  t.equal(await a.reserve({ key: `mac:${mac(999)}`, mac: mac(999), holdMs: 30_000, fixed: '10.0.0.12' }), '10.0.0.12', 'a reservation is offered as is')
  t.equal(await a.bind({ key: `mac:${mac(3)}`, mac: mac(3), ip: '10.0.0.12', leaseMs: HOUR, renewal: false }), undefined, 'another MAC cannot bind the reservation')
  t.equal(await a.bind({ key: `mac:${mac(3)}`, mac: mac(3), ip: '10.0.0.11', leaseMs: HOUR, renewal: false }), undefined, 'an excluded address is never bound')
  t.equal(await a.bind({ key: `mac:${mac(3)}`, mac: mac(3), ip: '10.0.0.201', leaseMs: HOUR, renewal: false }), undefined, 'an address outside the pool is never bound')
  const ip = await a.reserve({ key: `mac:${mac(4)}`, mac: mac(4), holdMs: 30_000, requested: '10.0.0.60' })
  t.equal(await a.decline(`mac:${mac(5)}`, ip!, 60_000, 30_000), undefined, "a client cannot decline another client's offer")
  const declined = await a.decline(`mac:${mac(4)}`, ip!, 60_000, 30_000)
  t.ok(declined)
  t.same(await a.commit([declined!]), new Set())
  t.equal((await a.byAddress(ip!))?.state, 'declined')
  t.not(await a.reserve({ key: `mac:${mac(6)}`, mac: mac(6), holdMs: 30_000, requested: ip! }), ip, 'a declined address is not offered')
})

t.test('hazard: two replicas binding one address for two clients at once: exactly one is stored', async (t) => {
  const db = await createDatabase(t)
  const a = await replica(t, db)
  const b = await replica(t, db)
  for (let round = 0; round < 20; round++) {
    const ip = `10.0.0.${100 + round}`
    // Both checks pass (nothing stored yet); the commits race and the database decides.
    const ca = await a.bind({ key: `mac:${mac(2 * round)}`, mac: mac(2 * round), ip, leaseMs: HOUR, renewal: false })
    const cb = await b.bind({ key: `mac:${mac(2 * round + 1)}`, mac: mac(2 * round + 1), ip, leaseMs: HOUR, renewal: false })
    const [ra, rb] = await Promise.all([a.commit([ca!]), b.commit([cb!])])
    t.equal(ra.size + rb.size, 1, `round ${round}: one of the two commits is refused`)
  }
  const leases = (await a.list()).filter((l) => l.state === 'bound')
  t.equal(leases.length, 20)
  t.equal(new Set(leases.map((l) => l.ip)).size, 20, 'one client per address')
})

t.test('hazard: 3 replicas, 150 clients at once, 100 addresses: no address twice, every address used', async (t) => {
  const db = await createDatabase(t)
  const pool = { start: '10.0.0.101', end: '10.0.0.200' }
  const replicas = await Promise.all([replica(t, db, pool), replica(t, db, pool), replica(t, db, pool)])
  const commits = replicas.map((r) => createGroupCommit<LeaseChange>((batch) => r.commit(batch)))
  const got = await Promise.all(Array.from({ length: 150 }, (_, i) => dora(replicas[i % 3]!, (c) => commits[i % 3]!.submit(c), i)))
  const acked = got.filter((x): x is string => x !== undefined)
  t.equal(new Set(acked).size, acked.length, 'no address acknowledged to two clients')
  t.ok(acked.length >= 90, `almost the whole pool is leased in one pass (${acked.length} of 100); the rest of the clients retry`)
  const stored = (await replicas[0]!.list()).filter((l) => l.state === 'bound')
  t.same(stored.map((l) => l.ip).sort(), [...acked].sort(), 'exactly the acknowledged leases are stored')
  t.ok(
    commits.some((c) => c.stats.largestBatch > 1),
    'commits were grouped (one transaction for several changes)',
  )
  // The clients that got nothing retry, as real ones do; the pool fills up without a duplicate.
  const again = await Promise.all(got.map((x, i) => (x ? x : dora(replicas[(i + 1) % 3]!, (c) => commits[(i + 1) % 3]!.submit(c), i))))
  const all = again.filter((x): x is string => x !== undefined)
  t.equal(all.length, 100, 'every address of the pool leased')
  t.equal(new Set(all).size, 100, 'still no duplicate')
})

t.test('hazard: PostgreSQL down: nothing is offered or committed; committed leases survive its crash', async (t) => {
  const db = await createDatabase(t)
  const a = await replica(t, db)
  const gc = createGroupCommit<LeaseChange>((batch) => a.commit(batch))
  const kept = await dora(a, (c) => gc.submit(c), 1)
  t.ok(kept)
  const change = await a.bind({ key: `mac:${mac(2)}`, mac: mac(2), ip: '10.0.0.77', leaseMs: HOUR, renewal: false })
  await db.cluster.stop('immediate')
  try {
    await t.rejects(a.reserve({ key: `mac:${mac(3)}`, mac: mac(3), holdMs: 30_000 }), { code: 'BP_ERR_STATE_UNAVAILABLE' }, 'no offer without the database')
    await t.rejects(gc.submit(change!), { code: 'BP_ERR_STATE_UNAVAILABLE' }, 'the commit rejects: no ACK')
    const renewal = await a.bind({ key: `mac:${mac(1)}`, mac: mac(1), ip: kept!, leaseMs: HOUR, renewal: true })
    await t.rejects(gc.submit(renewal!), { code: 'BP_ERR_STATE_UNAVAILABLE' }, 'a renewal is not acknowledged either')
  } finally {
    await db.cluster.start()
  }
  t.equal((await a.byClient(`mac:${mac(1)}`))?.ip, kept, 'the lease committed before the crash is there')
  t.equal(await a.byAddress('10.0.0.77'), undefined, 'the change that failed was not stored')
  t.ok(await dora(a, (c) => gc.submit(c), 3), 'service resumes once the database is back')
})

t.test('a new machine is offered an address without building the whole pool (65,536 addresses, 30,000 leased)', async (t) => {
  const db = await createDatabase(t)
  const admin = await db.cluster.admin(db.name)
  t.teardown(() => admin.end())
  // A small work_mem makes a query that builds the pool's 65,536 candidates spill to a temporary
  // file, which PostgreSQL counts: the cost that made a new machine's DISCOVER ~2.8 ms.
  await admin.query(`ALTER DATABASE ${db.name} SET work_mem = '64kB'`)
  const a = await replica(t, db, { start: '10.1.0.0', end: '10.1.255.255' })
  // Every other address of the pool's first 60,000 is leased, as after a storm of new machines.
  await admin.query(
    `INSERT INTO bp_dhcp_leases (key, addr, mac, state, expires_at, bound_at)
     SELECT 'mac:seed-' || g, $1::bigint + g * 2, '02:00:00:00:00:00', 'bound', $2::bigint, $3::bigint FROM generate_series(0, 29999) AS g`,
    [167837696, Date.now() + HOUR, Date.now()],
  )
  const stats = async () => {
    await admin.query('SELECT pg_stat_clear_snapshot()')
    const leases = await admin.query<{ idx: string }>("SELECT coalesce(idx_scan, 0) AS idx FROM pg_stat_user_tables WHERE relname = 'bp_dhcp_leases'")
    const temp = await admin.query<{ files: string }>('SELECT temp_files AS files FROM pg_stat_database WHERE datname = current_database()')
    return { idx: Number(leases.rows[0]!.idx), tempFiles: Number(temp.rows[0]!.files) }
  }
  const before = await stats()
  const offered = await Promise.all(Array.from({ length: 20 }, (_, i) => a.reserve({ key: `mac:${mac(500 + i)}`, mac: mac(500 + i), holdMs: 30_000 })))
  t.equal(new Set(offered.filter(Boolean)).size, 20, 'twenty new machines, twenty addresses')
  // A backend reports its statistics once idle, within 10 s (PostgreSQL 15's pgstat).
  let after = await stats()
  for (let i = 0; i < 150 && after.idx === before.idx; i++) {
    await new Promise((r) => setTimeout(r, 100))
    after = await stats()
  }
  t.ok(after.idx > before.idx, 'the replica reported its lookups')
  t.equal(after.tempFiles - before.tempFiles, 0, 'no claim built the pool (no temporary file)')
})
