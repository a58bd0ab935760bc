/**
 * The PostgreSQL lease backend's recent leases (postgres-lease-backend.ts reserve): a DISCOVER of
 * a client whose binding this replica committed within RECENT_LEASE_MS is answered without a
 * database statement. What must still hold: another replica's later change to that lease wins (the
 * stale offer's REQUEST is refused by the commit, and the next DISCOVER asks the database), no
 * address is stored for two clients, and nothing is remembered past its time, its lease or a
 * decline, release or a choice of another server.
 */
import t from 'tap'
import { createGroupCommit, RefusedChange } from '../../../core/dhcp/group-commit.js'
import type { LeaseChange } from '../../../core/dhcp/lease-backend.js'
import type { PostgresLeaseBackend } from '../../../core/dhcp/postgres-lease-backend.js'
import { RECENT_LEASE_MS, RECENT_LEASES } from '../../../core/dhcp/postgres-lease-backend.js'
import { createDatabase, type PgDatabase } from '../../helpers/postgres.js'
import type { Teardownable } from '../../helpers/state-backends.js'
import { openLeaseReplica, testMac as mac } from '../../helpers/pg-lease-replica.js'

const HOUR = 3_600_000
const HOLD = 30_000

/** A replica on its own clock that counts the statements it sends. */
async function counted(t: Teardownable, db: PgDatabase, pool?: { start: string; end: string }) {
  const clock = { now: Date.now() }
  const sent: string[] = []
  const b = await openLeaseReplica(t, db, pool, { now: () => clock.now, onQuery: (sql) => sent.push(sql) })
  return { b, clock, sent }
}

async function bindAndCommit(b: PostgresLeaseBackend, i: number, ip: string, leaseMs = HOUR): Promise<boolean> {
  const change = await b.bind({ key: `mac:${mac(i)}`, mac: mac(i), ip, leaseMs, renewal: false })
  if (!change) return false
  return (await b.commit([change])).size === 0
}

t.test("a DISCOVER after this replica's commit sends no statement and gets the committed address", async (t) => {
  const db = await createDatabase(t)
  const { b, sent } = await counted(t, db)
  const key = `mac:${mac(1)}`
  const ip = await b.reserve({ key, mac: mac(1), holdMs: HOLD })
  t.ok(ip, 'the first DISCOVER asks the database')
  t.ok(await bindAndCommit(b, 1, ip!))
  sent.length = 0
  t.equal(await b.reserve({ key, mac: mac(1), holdMs: HOLD }), ip, 'the next DISCOVER gets the bound address')
  t.same(sent, [], 'without a statement')
  t.equal(b.offerCount(), 2, 'it still counts as an offer')
  t.ok(await bindAndCommit(b, 1, ip!), 'and its REQUEST commits')
  t.equal((await b.byClient(key))?.ip, ip)
})

t.test('hazard: another replica released the lease and gave the address away: the stale offer is refused, nothing is stored twice', async (t) => {
  const db = await createDatabase(t)
  // One address: whoever holds it, nobody else can get it.
  const pool = { start: '10.0.0.40', end: '10.0.0.40' }
  const { b: a, sent } = await counted(t, db, pool)
  const b = await openLeaseReplica(t, db, pool)
  const k = `mac:${mac(1)}`
  const ip = await a.reserve({ key: k, mac: mac(1), holdMs: HOLD })
  t.equal(ip, '10.0.0.40')
  t.ok(await bindAndCommit(a, 1, ip!), 'K bound at replica A')
  // Through replica B: K releases, C takes the address.
  t.same(await b.commit([(await b.release(k, ip!))!]), new Set())
  t.equal(await b.reserve({ key: `mac:${mac(2)}`, mac: mac(2), holdMs: HOLD }), ip, 'C is offered the released address at B')
  t.ok(await bindAndCommit(b, 2, ip!), 'C bound at B')
  // A still remembers K's binding: its offer is stale, and the REQUEST's commit finds out.
  sent.length = 0
  t.equal(await a.reserve({ key: k, mac: mac(1), holdMs: HOLD }), ip, "A offers K its remembered address (it has not seen B's changes)")
  t.same(sent, [], 'from memory')
  const stale = await a.bind({ key: k, mac: mac(1), ip: ip!, leaseMs: HOUR, renewal: false })
  t.same(await a.commit([stale!]), new Set([stale]), "K's REQUEST is refused by the database (a NAK)")
  const stored = (await a.list()).filter((l) => l.ip === ip && l.state === 'bound')
  t.same(
    stored.map((l) => l.key),
    [`mac:${mac(2)}`],
    'the address is bound to C alone',
  )
  sent.length = 0
  t.equal(await a.reserve({ key: k, mac: mac(1), holdMs: HOLD }), undefined, 'the refused change was forgotten: the next DISCOVER asks the database, which has nothing free')
  t.ok(sent.length > 0, 'it sent a statement')
})

t.test('nothing is remembered past RECENT_LEASE_MS, past the lease, or after a release, a decline or another server chosen', async (t) => {
  const db = await createDatabase(t)
  const { b, clock, sent } = await counted(t, db)
  const asks = async (i: number, holdMs = HOLD): Promise<boolean> => {
    sent.length = 0
    await b.reserve({ key: `mac:${mac(i)}`, mac: mac(i), holdMs })
    return sent.length > 0
  }
  for (const i of [1, 2, 3, 4, 5]) {
    const ip = await b.reserve({ key: `mac:${mac(i)}`, mac: mac(i), holdMs: HOLD })
    t.ok(await bindAndCommit(b, i, ip!, i === 2 ? 20_000 : HOUR))
  }
  t.equal(await asks(1), false, 'remembered right after the commit')
  t.equal(await asks(2), true, 'a lease that ends within the hold is asked for (the database path would not offer it either)')
  const released = await b.release(`mac:${mac(3)}`, (await b.byClient(`mac:${mac(3)}`))!.ip)
  t.same(await b.commit([released!]), new Set())
  t.equal(await asks(3), true, 'a released lease is forgotten')
  const ip4 = (await b.byClient(`mac:${mac(4)}`))!.ip
  const declined = await b.decline(`mac:${mac(4)}`, ip4, HOUR, 60_000)
  t.ok(declined, 'the decline is accepted within its window')
  t.same(await b.commit([declined!]), new Set())
  t.equal(await asks(4), true, "a decline forgets the decliner's lease")
  await b.forgetOffer(`mac:${mac(5)}`)
  t.equal(await asks(5), true, 'a client that chose another server is forgotten')
  // 10.0.0.12 is mac(999)'s reservation (pg-lease-replica.ts): a reservation is always asked for.
  const fixed = { key: `mac:${mac(999)}`, mac: mac(999), holdMs: HOLD, fixed: '10.0.0.12' }
  t.equal(await b.reserve(fixed), '10.0.0.12')
  t.ok(await bindAndCommit(b, 999, '10.0.0.12'))
  sent.length = 0
  t.equal(await b.reserve(fixed), '10.0.0.12')
  t.ok(sent.length > 0, 'a reserved client is asked for in the database')
  clock.now += RECENT_LEASE_MS + 1
  t.equal(await asks(1), true, `after ${RECENT_LEASE_MS} ms the database is asked again`)
  t.equal(await asks(1), true, 'and what the database offered is not remembered: only commits are')
})

t.test(`at most RECENT_LEASES (${RECENT_LEASES}) clients are remembered, the least recently used forgotten first`, async (t) => {
  const db = await createDatabase(t)
  const { b, sent } = await counted(t, db, { start: '10.0.0.10', end: '10.0.63.255' })
  const n = RECENT_LEASES + 1
  const changes = []
  for (let i = 0; i < n; i++) {
    const ip = `10.0.${(i + 20) >> 8}.${(i + 20) & 255}` // past the excluded .11 and reserved .12
    changes.push((await b.bind({ key: `mac:${mac(i)}`, mac: mac(i), ip, leaseMs: HOUR, renewal: false }))!)
  }
  t.same(await b.commit(changes), new Set(), `${n} bindings in one commit`)
  sent.length = 0
  t.equal(await b.reserve({ key: `mac:${mac(n - 1)}`, mac: mac(n - 1), holdMs: HOLD }), changes[n - 1]!.lease.ip)
  t.same(sent, [], 'the newest is remembered')
  t.equal(await b.reserve({ key: `mac:${mac(0)}`, mac: mac(0), holdMs: HOLD }), changes[0]!.lease.ip, 'the oldest gets its address from the database')
  t.ok(sent.length > 0, 'the oldest was forgotten')
})

t.test('hazard: PostgreSQL down: once the replica has seen it fail, a remembered client gets no offer either', async (t) => {
  const db = await createDatabase(t)
  const { b } = await counted(t, db)
  const k = { key: `mac:${mac(1)}`, mac: mac(1), holdMs: HOLD }
  const ip = await b.reserve(k)
  t.ok(await bindAndCommit(b, 1, ip!))
  await db.cluster.stop('immediate')
  try {
    // A statement fails (the pool may also have seen its idle connections drop already).
    const change = await b.bind({ key: `mac:${mac(2)}`, mac: mac(2), ip: '10.0.0.90', leaseMs: HOUR, renewal: false })
    await t.rejects(b.commit([change!]), { code: 'BP_ERR_STATE_UNAVAILABLE' }, 'a commit fails: no ACK')
    await t.rejects(b.reserve(k), { code: 'BP_ERR_STATE_UNAVAILABLE' }, 'the remembered client asks the database too: no offer')
  } finally {
    await db.cluster.start()
  }
  t.equal(await b.reserve(k), ip, 'its address again once the database is back')
})

t.test('hazard: 30 clients, three bursts each at a random one of two replicas, releases through the other in between: what was acknowledged is what is stored, no address twice', async (t) => {
  const db = await createDatabase(t)
  const pool = { start: '10.0.0.40', end: '10.0.0.79' }
  const replicas = [await openLeaseReplica(t, db, pool), await openLeaseReplica(t, db, pool)]
  const commits = replicas.map((r) => createGroupCommit<LeaseChange>((batch) => r.commit(batch)))
  const acked = new Map<number, { ip: string; at: number }>()
  const dora = async (i: number, at: number): Promise<void> => {
    const r = replicas[at]!
    const key = `mac:${mac(i)}`
    const ip = await r.reserve({ key, mac: mac(i), holdMs: HOLD })
    if (!ip) return
    const change = await r.bind({ key, mac: mac(i), ip, leaseMs: HOUR, renewal: false })
    try {
      await commits[at]!.submit(change!)
      acked.set(i, { ip, at })
    } catch (err) {
      if (!(err instanceof RefusedChange)) throw err
    }
  }
  for (let round = 0; round < 3; round++) {
    await Promise.all(Array.from({ length: 30 }, (_, i) => dora(i, Math.random() < 0.5 ? 0 : 1)))
    // A third of the clients release through the replica that did not bind them: its partner's memory is stale.
    for (const [i, a] of [...acked].filter(([i]) => i % 3 === round)) {
      const other = replicas[1 - a.at]!
      const released = await other.release(`mac:${mac(i)}`, a.ip)
      if (released && (await other.commit([released])).size === 0) acked.delete(i)
    }
  }
  const bound = (await replicas[0]!.list()).filter((l) => l.state === 'bound')
  t.equal(new Set(bound.map((l) => l.ip)).size, bound.length, 'no address bound twice')
  t.same(
    Object.fromEntries(bound.map((l) => [l.key, l.ip])),
    Object.fromEntries([...acked].map(([i, a]) => [`mac:${mac(i)}`, a.ip])),
    "every client's last acknowledged address is its stored lease, and nothing else is stored",
  )
  t.ok(acked.size > 0)
})
