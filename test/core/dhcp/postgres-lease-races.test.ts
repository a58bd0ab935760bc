/**
 * Trying to break the two statements of a DORA on PostgreSQL (bp_dhcp_offer for the DISCOVER, the
 * REQUEST inside bp_dhcp_commit) on a real PostgreSQL 15: parallel bursts from two replicas on
 * one database past the pool's end, one client DISCOVERing at two replicas at once, and hostile
 * values. Nothing may give one address to two clients, and no database error (a deadlock
 * between the replicas' transactions) may reach a caller.
 */
import pg from 'pg'
import { ipToInt } from '../../../core/dhcp/ipv4.js'
import t from 'tap'
import { createGroupCommit, RefusedChange } from '../../../core/dhcp/group-commit.js'
import type { LeaseChange } from '../../../core/dhcp/lease-backend.js'
import { clientConfig, createDatabase, type PgDatabase } from '../../helpers/postgres.js'
import { openLeaseReplica, testMac } from '../../helpers/pg-lease-replica.js'
import type { Teardownable } from '../../helpers/state-backends.js'

const mac = testMac
const HOUR = 3_600_000

async function replica(t: Teardownable, db: PgDatabase, pool?: { start: string; end: string }) {
  const b = await openLeaseReplica(t, db, pool)
  const commits = createGroupCommit<LeaseChange>((batch) => b.commit(batch))
  /** DISCOVER then REQUEST for client i: the address acknowledged, or undefined (no offer, or NAK). */
  const dora = async (i: number): Promise<string | undefined> => {
    const ip = await b.reserve({ key: `mac:${mac(i)}`, mac: mac(i), holdMs: 30_000 })
    if (!ip) return undefined
    const change = await b.bind({ key: `mac:${mac(i)}`, mac: mac(i), ip, leaseMs: HOUR, renewal: false })
    try {
      await commits.submit(change!)
      return ip
    } catch (err) {
      if (err instanceof RefusedChange) return undefined
      throw err
    }
  }
  return { b, commits, dora }
}

t.test('hazard: parallel bursts from two replicas past the end of the pool: 50 addresses, 120 clients', async (t) => {
  const db = await createDatabase(t)
  const pool = { start: '10.0.0.101', end: '10.0.0.150' }
  const [a, b] = await Promise.all([replica(t, db, pool), replica(t, db, pool)])
  /** As a real client that hears both: DISCOVER at both at once, REQUEST the first offer; the other replica sees a REQUEST naming another server and forgets its offer. */
  const both = async (i: number): Promise<string | undefined> => {
    const claim = { key: `mac:${mac(i)}`, mac: mac(i), holdMs: 30_000 }
    const offers = [a, b].map((r) => r.b.reserve(claim).then((ip) => ({ r, ip })))
    const first = await Promise.race(offers.map((p) => p.then((o) => (o.ip ? o : new Promise<never>(() => {})))).concat(Promise.all(offers).then(() => ({ r: a, ip: undefined }))))
    if (!first.ip) return undefined
    const other = first.r === a ? b : a
    await Promise.all(offers)
    await other.b.forgetOffer(claim.key)
    const change = await first.r.b.bind({ ...claim, ip: first.ip, leaseMs: HOUR, renewal: false })
    try {
      await first.r.commits.submit(change!)
      return first.ip
    } catch (err) {
      if (err instanceof RefusedChange) return undefined
      throw err
    }
  }
  const acked = new Map<number, string>()
  // Rounds of bursts, every client not yet leased trying again, until the pool is full.
  for (let round = 0; round < 6 && acked.size < 50; round++) {
    const waiting = Array.from({ length: 120 }, (_, i) => i).filter((i) => !acked.has(i))
    const got = await Promise.all(waiting.map((i) => both(i).then((ip) => [i, ip] as const)))
    for (const [i, ip] of got) if (ip) acked.set(i, ip)
  }
  const ips = [...acked.values()]
  t.equal(acked.size, 50, 'every address of the pool leased, the other 70 clients got nothing')
  t.equal(new Set(ips).size, 50, 'no address acknowledged to two clients')
  const stored = (await a.b.list()).filter((l) => l.state === 'bound')
  t.same(stored.map((l) => l.ip).sort(), [...ips].sort(), 'exactly the acknowledged leases are stored')
  t.equal(await a.b.reserve({ key: `mac:${mac(500)}`, mac: mac(500), holdMs: 30_000 }), undefined, 'a full pool offers nothing')
})

t.test('hazard: one client DISCOVERs at two replicas at once: it holds both offers, nobody else gets them', async (t) => {
  const db = await createDatabase(t)
  const [a, b] = await Promise.all([replica(t, db), replica(t, db)])
  for (let i = 0; i < 20; i++) {
    const claim = { key: `mac:${mac(i)}`, mac: mac(i), holdMs: 30_000 }
    const [x, y] = await Promise.all([a.b.reserve(claim), b.b.reserve(claim)])
    t.ok(x && y, `client ${i}: both replicas offered (${x}, ${y})`)
    const held = (await a.b.list()).filter((l) => l.state === 'offered' && l.key === claim.key).map((l) => l.ip)
    t.same(held.sort(), [...new Set([x, y])].sort(), 'the database holds exactly those offers')
    const other = await Promise.all([
      a.b.reserve({ key: `mac:${mac(100 + i)}`, mac: mac(100 + i), holdMs: 30_000, requested: x! }),
      b.b.reserve({ key: `mac:${mac(200 + i)}`, mac: mac(200 + i), holdMs: 30_000, requested: y! }),
    ])
    t.notOk(other.includes(x!) || other.includes(y!), 'another client asking for them gets other addresses')
    // The client REQUESTs the offer of replica b: bound there, its other offer goes.
    await b.commits.submit((await b.b.bind({ key: claim.key, mac: claim.mac, ip: y!, leaseMs: HOUR, renewal: false }))!)
    const after = (await a.b.list()).filter((l) => l.key === claim.key).map((l) => [l.ip, l.state])
    t.same(after, [[y, 'bound']], 'bound at one address; no offer of it is left')
  }
})

t.test('hostile values: quotes and SQL in the client id, a NUL in the hostname, an unknown allocation step', async (t) => {
  const db = await createDatabase(t)
  const { b, commits } = await replica(t, db)
  const key = `id:'); DELETE FROM bp_dhcp_leases; --${'ff'.repeat(250)}`
  const ip = await b.reserve({ key, mac: mac(1), holdMs: 30_000, requested: '10.0.0.50' })
  t.ok(ip, `an odd client id is offered like any other (${ip})`)
  const friend = await b.reserve({ key: `mac:${mac(2)}`, mac: mac(2), holdMs: 30_000 })
  const hostile = await b.bind({ key, mac: mac(1), ip: ip!, leaseMs: HOUR, renewal: false, hostname: 'evil\0host\u00ff' })
  const innocent = await b.bind({ key: `mac:${mac(2)}`, mac: mac(2), ip: friend!, leaseMs: HOUR, renewal: false })
  // One batch: the hostile hostname must not fail the innocent client's commit with it.
  t.same(await b.commit([hostile!, innocent!]), new Set(), 'both changes of the batch stored')
  t.equal((await b.byClient(key))?.hostname, 'evilhost\u00ff', 'the NUL byte is dropped, the rest kept')
  t.equal((await b.byClient(`mac:${mac(2)}`))?.state, 'bound')
  await commits.idle()
  const state = (b as unknown as { db: { query: (sql: string, p: unknown[]) => Promise<unknown> } }).db
  await t.rejects(
    state.query('SELECT bp_dhcp_offer($1::text[], $2, $3, $4, NULL, NULL, 1, 9, $5::bigint[], 0, 1000, 0)', [['drop table'], 'k', mac(3), 's', []]),
    /unknown allocation step drop table/,
    'a step the function does not know is an error, never a silent skip',
  )
})

t.test('the DISCOVER commits its offer without waiting for the WAL flush; the REQUEST waits for it', async (t) => {
  const db = await createDatabase(t)
  const b = await openLeaseReplica(t, db)
  // The statements the backend itself runs, recorded, then replayed inside a transaction that shows its setting.
  const state = (b as unknown as { db: { query: (sql: string, p: readonly unknown[]) => Promise<unknown> } }).db
  const ran: Array<{ sql: string; params: readonly unknown[] }> = []
  const query = state.query.bind(state)
  state.query = (sql, params) => {
    ran.push({ sql, params })
    return query(sql, params)
  }
  const ip = await b.reserve({ key: `mac:${mac(7)}`, mac: mac(7), holdMs: 30_000 })
  const change = await b.bind({ key: `mac:${mac(7)}`, mac: mac(7), ip: ip!, leaseMs: HOUR, renewal: false })
  t.same(await b.commit([change!]), new Set(), 'leased')
  state.query = query
  t.equal(ran.length, 2, 'a DORA is two statements')
  const c = new pg.Client(clientConfig(db))
  await c.connect()
  t.teardown(() => c.end())
  const settingAfter = async (stmt: { sql: string; params: readonly unknown[] }): Promise<string> => {
    await c.query('BEGIN')
    try {
      await c.query(stmt.sql, [...stmt.params])
      return (await c.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]!.synchronous_commit
    } finally {
      await c.query('ROLLBACK')
    }
  }
  t.equal(await settingAfter(ran[0]!), 'off', "the DISCOVER's transaction commits asynchronously (an offer is a hold, never acknowledged)")
  t.equal(await settingAfter(ran[1]!), 'on', "the REQUEST's commit waits for the flush: its ACK follows a durable lease")
  t.equal((await c.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]!.synchronous_commit, 'on', 'the setting ends with the transaction')
})

t.test('a burst of 40 DISCOVERs from one replica takes a few statements; each client gets its own address', async (t) => {
  const db = await createDatabase(t)
  const b = await openLeaseReplica(t, db)
  const state = (b as unknown as { db: { query: (sql: string, p: readonly unknown[]) => Promise<unknown> } }).db
  let statements = 0
  const query = state.query.bind(state)
  state.query = (sql, params) => {
    statements++
    return query(sql, params)
  }
  const ips = await Promise.all(Array.from({ length: 40 }, (_, i) => b.reserve({ key: `mac:${mac(i)}`, mac: mac(i), holdMs: 30_000 })))
  state.query = query
  t.equal(ips.filter(Boolean).length, 40, 'every client offered an address')
  t.equal(new Set(ips).size, 40, 'no address offered twice')
  t.ok(statements <= 3, `${statements} statements for 40 DISCOVERs (the first alone, the other 39 in batches of at most 32)`)
})

t.test('a client whose own binding outlasts the hold is offered it without a hold row', async (t) => {
  const db = await createDatabase(t)
  const b = await openLeaseReplica(t, db)
  const claim = { key: `mac:${mac(3)}`, mac: mac(3), holdMs: 30_000 }
  const ip = await b.reserve(claim)
  t.same(await b.commit([(await b.bind({ ...claim, ip: ip!, leaseMs: HOUR, renewal: false }))!]), new Set(), 'leased')
  const admin = await db.cluster.admin(db.name)
  t.teardown(() => admin.end())
  const offers = async () => Number((await admin.query<{ n: string }>('SELECT count(*) AS n FROM bp_dhcp_offers')).rows[0]!.n)
  t.equal(await b.reserve(claim), ip, 'the same address again')
  t.equal(await offers(), 0, 'no hold row: the binding keeps other clients off the address')
  // A binding that ends within the hold needs the hold row, as for any other client.
  const short = await b.bind({ ...claim, ip: ip!, leaseMs: 10_000, renewal: true })
  t.same(await b.commit([short!]), new Set(), 'renewed for 10 s')
  t.equal(await b.reserve(claim), ip, 'still its address')
  t.equal(await offers(), 1, 'held by an offer row: the binding ends before the hold')
  t.equal((await b.reserve({ key: `mac:${mac(4)}`, mac: mac(4), holdMs: 30_000, requested: ip! })) === ip, false, 'another client asking for it does not get it')
})

t.test("hazard: a DISCOVER waiting on another replica's open transaction for its address gets no offer at once; its batch goes on", async (t) => {
  const db = await createDatabase(t)
  const b = await openLeaseReplica(t, db)
  const other = new pg.Client(clientConfig(db))
  await other.connect()
  t.teardown(() => other.end())
  // Another replica's batch, still open, holds 10.0.0.50 under UNIQUE(addr); uncommitted, so the DISCOVER finds it free and then waits on the index.
  await other.query('BEGIN')
  await other.query("INSERT INTO bp_dhcp_offers (key, server, addr, mac, expires_at) VALUES ('mac:elsewhere', '10.0.0.99', $1, 'elsewhere', $2)", [ipToInt('10.0.0.50'), Date.now() + 30_000])
  // The others ask for addresses of their own: from the pool's random starting point one of them
  // could land on 10.0.0.50 and wait too (a CI rehearsal's 'the batch before it served' failed so).
  const first = b.reserve({ key: `mac:${mac(1)}`, mac: mac(1), holdMs: 30_000, requested: '10.0.0.20' })
  const started = Date.now()
  const [waiting, ...rest] = await Promise.all([
    b.reserve({ key: `mac:${mac(2)}`, mac: mac(2), holdMs: 30_000, requested: '10.0.0.50' }),
    b.reserve({ key: `mac:${mac(3)}`, mac: mac(3), holdMs: 30_000, requested: '10.0.0.21' }),
    b.reserve({ key: `mac:${mac(4)}`, mac: mac(4), holdMs: 30_000, requested: '10.0.0.22' }),
  ])
  const ms = Date.now() - started
  await other.query('ROLLBACK')
  t.ok(await first, 'the batch before it served')
  t.equal(waiting, undefined, 'no offer for the claim that would wait (its client repeats the DISCOVER)')
  t.equal(rest.filter(Boolean).length, 2, 'the rest of its batch got offers')
  t.ok(ms < 5_000, `answered after ${ms} ms, not when the other transaction ends`)
  t.ok(!rest.includes('10.0.0.50'), 'nobody got the address the other transaction holds')
})

t.test("hazard: a REQUEST's change crossing another replica's open transaction (a deadlock) is refused alone; the rest of its batch is durable", async (t) => {
  const db = await createDatabase(t)
  // Below the commit's lock_timeout (250 ms), so the cycle below can end in deadlock_detected, not only
  // in the lock timeout; either way the waiting change alone is refused. SUSET: set by the superuser.
  const admin = await db.cluster.admin(db.name)
  await admin.query(`ALTER DATABASE ${db.name} SET deadlock_timeout = '100ms'`)
  await admin.end()
  const b = await openLeaseReplica(t, db)
  // The other side waits 10 s before it looks for a cycle, so the batch is the one that finds it.
  const other = await db.cluster.admin(db.name)
  t.teardown(() => other.end())
  await other.query("SET deadlock_timeout = '10s'")
  const [x, y] = [ipToInt('10.0.0.60'), ipToInt('10.0.0.61')]
  // "Another replica" binds 10.0.0.61 in a transaction it keeps open.
  await other.query('BEGIN')
  await other.query("INSERT INTO bp_dhcp_leases (key, addr, mac, state, expires_at) VALUES ('mac:elsewhere', $1, 'elsewhere', 'bound', $2)", [y, Date.now() + HOUR])
  const mine = await b.bind({ key: `mac:${mac(1)}`, mac: mac(1), ip: '10.0.0.60', leaseMs: HOUR, renewal: false })
  const crossing = await b.bind({ key: `mac:${mac(2)}`, mac: mac(2), ip: '10.0.0.61', leaseMs: HOUR, renewal: false })
  const started = Date.now()
  // The batch stores 10.0.0.60, then waits on the other's 10.0.0.61 ...
  const committing = b.commit([mine!, crossing!])
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    const { rows } = await other.query("SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'")
    if (rows[0].n > 0) break
    await new Promise((r) => setTimeout(r, 5))
  }
  // ... while the other, still open, now wants 10.0.0.60: a cycle, unless the batch has already given up.
  const otherSecond = other.query("INSERT INTO bp_dhcp_leases (key, addr, mac, state, expires_at) VALUES ('mac:elsewhere2', $1, 'elsewhere2', 'bound', $2)", [x, Date.now() + HOUR]).then(
    () => 'stored',
    (err: { code?: string }) => err.code,
  )
  const refused = await committing
  const ms = Date.now() - started
  t.same([...refused], [crossing], 'only the change on the address the other transaction holds is refused')
  t.ok(ms < 5_000, `the batch returned after ${ms} ms, not when the other transaction ends`)
  t.equal(await otherSecond, '23505', 'the other transaction then finds 10.0.0.60 taken (unique_violation), never both stored')
  await other.query('ROLLBACK')
  t.equal((await b.byAddress('10.0.0.60'))?.key, `mac:${mac(1)}`, "the batch's other change is durable")
  t.equal(await b.byAddress('10.0.0.61'), undefined, 'nobody holds the address whose holder rolled back')
})

/** Leases clients `is` through b (DISCOVER, REQUEST, commit): their addresses and boundAts. */
async function leaseKnown(b: Awaited<ReturnType<typeof openLeaseReplica>>, is: number[]) {
  const out: { key: string; ip: string; boundAt: number; expiresAt: number }[] = []
  for (const i of is) {
    const claim = { key: `mac:${mac(i)}`, mac: mac(i), holdMs: 30_000 }
    const ip = (await b.reserve(claim))!
    const change = (await b.bind({ ...claim, ip, leaseMs: HOUR, renewal: false }))!
    if ((await b.commit([change])).size !== 0) throw new Error(`could not lease client ${i}`)
    out.push({ key: claim.key, ip, boundAt: change.lease.boundAt!, expiresAt: change.lease.expiresAt })
  }
  return out
}

t.test("hazard: a known client's REQUEST whose row another transaction holds is refused alone, not waited on outside a sub-transaction", async (t) => {
  const db = await createDatabase(t)
  const b = await openLeaseReplica(t, db)
  const [one, two] = await leaseKnown(b, [1, 2])
  const other = new pg.Client(clientConfig(db))
  await other.connect()
  t.teardown(() => other.end())
  // Another replica's transaction, still open, has locked client 1's row (it is renewing it there).
  await other.query('BEGIN')
  await other.query('SELECT 1 FROM bp_dhcp_leases WHERE key = $1 FOR UPDATE', [one!.key])
  const r1 = (await b.bind({ key: one!.key, mac: mac(1), ip: one!.ip, leaseMs: 2 * HOUR, renewal: true }))!
  const r2 = (await b.bind({ key: two!.key, mac: mac(2), ip: two!.ip, leaseMs: 2 * HOUR, renewal: true }))!
  const started = Date.now()
  const refused = await b.commit([r1, r2])
  const ms = Date.now() - started
  await other.query('ROLLBACK')
  t.same([...refused], [r1], 'only the change on the locked row is refused (its client gets a NAK and asks again)')
  t.ok(ms < 5_000, `the batch returned after ${ms} ms, not when the other transaction ends`)
  const stored = await b.byClient(two!.key)
  t.equal(stored?.expiresAt, r2.lease.expiresAt, "the other known client's renewal is durable")
  t.equal(stored?.boundAt, two!.boundAt, 'and keeps its boundAt')
  t.equal((await b.byClient(one!.key))?.expiresAt, one!.expiresAt, 'the refused renewal stored nothing: the lease is as the other transaction left it')
})

t.test("a known client's commit still clears the offers on its key and address, and a renewal after a release keeps no boundAt", async (t) => {
  const db = await createDatabase(t)
  const b = await openLeaseReplica(t, db)
  const [one] = await leaseKnown(b, [1])
  const admin = await db.cluster.admin(db.name)
  t.teardown(() => admin.end())
  // Another replica's offer to this client (of another address), and a lapsed offer of someone else on its address.
  const later = Date.now() + 30_000
  await admin.query("INSERT INTO bp_dhcp_offers (key, server, addr, mac, expires_at) VALUES ($1, 'other-replica', $2, $3, $4)", [one!.key, ipToInt('10.0.0.150'), mac(1), later])
  await admin.query("INSERT INTO bp_dhcp_offers (key, server, addr, mac, expires_at) VALUES ('mac:lapsed', 'other-replica', $1, 'lapsed', 1)", [ipToInt(one!.ip)])
  const again = (await b.bind({ key: one!.key, mac: mac(1), ip: one!.ip, leaseMs: HOUR, renewal: false }))!
  t.same(await b.commit([again]), new Set(), 'bound again')
  const { rows } = await admin.query<{ key: string }>('SELECT key FROM bp_dhcp_offers ORDER BY key')
  t.same(rows, [], "the binding removed the offers of its key and its address, as a new client's does")
  const stored = await b.byClient(one!.key)
  t.equal(stored?.boundAt, again.lease.boundAt, 'a REQUEST that is no renewal sets a new boundAt')
  t.same(await b.commit([(await b.release(one!.key, one!.ip))!]), new Set(), 'released')
  const renewal = (await b.bind({ key: one!.key, mac: mac(1), ip: one!.ip, leaseMs: HOUR, renewal: true }))!
  t.same(await b.commit([renewal]), new Set(), 'renewed from the released record')
  t.same([(await b.byClient(one!.key))?.state, (await b.byClient(one!.key))?.boundAt], ['bound', 0], 'a renewal of a record that is not bound keeps no boundAt (the decline window stays shut)')
})
