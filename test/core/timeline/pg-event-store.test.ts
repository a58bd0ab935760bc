/**
 * The timeline and decision records in PostgreSQL (core/timeline/pg-event-store.ts), against a
 * real PostgreSQL 15 (test/helpers/postgres.ts): two replicas on one database see each other's
 * events in order in /api/machines and in the SSE tail (the delay is measured and printed); no
 * password, registered secret or secret-named field reaches a stored row; with the database
 * stopped /boot keeps answering while events queue up to the bound, then are dropped and counted,
 * and are stored once it is back; retention deletes by age and by row count under its lock; a
 * burst of parallel boots is stored whole.
 */
import t, { type Test } from 'tap'
import { build, type Bootpolicy } from '../../../core/http/build-app.js'
import { registerSecret } from '../../../core/log/secret-registry.js'
import type { PostgresStateBackend } from '../../../core/state/postgres-backend.js'
import { tempPolicies } from '../../helpers/policy-dir.js'
import { createDatabase, type PgDatabase } from '../../helpers/postgres.js'
import { trailLines, trailSecret } from '../../helpers/secret-trail.js'
import { pgBackend } from '../../helpers/state-backends.js'

t.setTimeout(300_000)

const ADMIN = 'pg-timeline-test-admin-token-0123456789'
const auth = { authorization: `Bearer ${ADMIN}` }
const MAC = '52:54:00:dd:00:01'
const POLICY = `import { boot, policy } from 'bootpolicy/policy'
export default policy((ctx) => boot('/files/vmlinuz'))
`

type Api = any
interface Replica {
  readonly bp: Bootpolicy
  readonly db: PostgresStateBackend
  get(path: string): Promise<Api>
}

async function replica(t: Test, database: PgDatabase, postgres: Record<string, unknown> = {}): Promise<Replica> {
  const dir = tempPolicies({ 'p.ts': POLICY })
  t.teardown(() => dir.remove())
  const db = await pgBackend(t, database)
  const bp = await build(dir.config({ http: { adminToken: ADMIN }, stateDir: `${dir.dir}/var`, timeline: { postgres: { batchMs: 50, pollMs: 100, ...postgres } } }), { state: db })
  t.teardown(() => bp.close())
  return {
    bp,
    db,
    async get(path) {
      const res = await bp.app.inject({ url: path, headers: auth })
      return { status: res.statusCode, ...(String(res.headers['content-type'] ?? '').includes('json') ? res.json() : {}) }
    },
  }
}

const boot = (r: Replica, query: string) => r.bp.app.inject({ url: `/boot?${query}`, remoteAddress: '192.0.2.7' })
const store = (r: Replica) => r.bp.runtime.eventStore!

t.test('two replicas: events of A are on B in order, in the machines view and the SSE tail', async (t) => {
  const database = await createDatabase(t)
  const [a, b] = [await replica(t, database), await replica(t, database)]
  t.equal((await boot(a, `mac=${MAC}&buildarch=x86_64&platform=efi&hostname=from-a`)).statusCode, 200)
  await store(a).flush()
  t.equal((await boot(b, `mac=${MAC}&buildarch=x86_64&platform=efi`)).statusCode, 200)
  await store(b).flush()
  for (const r of [a, b]) {
    const list = await r.get('/api/machines')
    t.equal(list.total, 1)
    const m = list.machines[0]
    t.equal(m.id, MAC)
    t.equal(m.hostname, 'from-a', 'what A learned stays when B adds its decision')
    t.equal(m.lastDecision.decidedBy, 'policy:p.ts')
    t.equal(m.state, 'booting')
    const tl = await r.get(`/api/machines/${MAC}/timeline?limit=1`)
    t.equal(tl.events.length, 1)
    const rest = await r.get(`/api/machines/${MAC}/timeline?after=${tl.next}`)
    const events = [...tl.events, ...rest.events]
    t.same(
      events.map((e: { source: string; type: string }) => `${e.source}:${e.type}`),
      ['http:decision', 'http:decision'],
    )
    t.ok(events[0].seq < events[1].seq && events[0].fields.reqId !== events[1].fields.reqId, "A's boot first, then B's")
  }
  const { rows } = await a.db.query<{ n: string; origins: string }>('SELECT count(*) AS n, count(DISTINCT origin) AS origins FROM bp_decisions', [])
  t.same(rows[0], { n: '2', origins: '2' }, 'one decision record per /boot, from both replicas')
  // The query docs/reference/logging.md gives.
  const { rows: deciders } = await a.db.query<{ d: string }>("SELECT record::jsonb->>'decidedBy' AS d FROM bp_decisions ORDER BY id DESC LIMIT 20", [])
  t.same(
    deciders.map((x) => x.d),
    ['policy:p.ts', 'policy:p.ts'],
  )

  // The SSE tail of B hears an event A records.
  await b.bp.app.listen({ host: '127.0.0.1', port: 0 })
  const address = b.bp.app.server.address()
  const ctl = new AbortController()
  t.teardown(() => ctl.abort())
  const res = await fetch(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/api/machines/events?mac=${MAC}`, { headers: auth, signal: ctl.signal })
  const reader = res.body!.getReader()
  await reader.read() // the opening comment: B's tail has its listener
  // The tail's first poll only finds where "now" is, and skips what was stored before it (a fixed
  // 300 ms wait did not always cover that on a loaded host). Events of another machine, which the
  // stream filters out, are recorded on A until B's tail delivers one: from then on it is live.
  let live = false
  const stopProbe = b.bp.runtime.timelineReader.subscribe((_id, e) => {
    if (e.type === 'PROBE') live = true
  })
  for (const deadline = Date.now() + 60_000; !live && Date.now() < deadline; ) {
    a.bp.runtime.timeline.record({ mac: '52:54:00:dd:00:ff' }, 'dhcp', 'PROBE')
    await store(a).flush()
    await new Promise((r) => setTimeout(r, 200))
  }
  stopProbe()
  t.ok(live, "B's tail delivers A's events")
  // A stream that never delivers fails the test at this deadline instead of hanging the file.
  const giveUp = setTimeout(() => ctl.abort(), 60_000)
  const t0 = performance.now()
  a.bp.runtime.timeline.record({ mac: MAC }, 'dhcp', 'DISCOVER', { arch: 'x86_64-efi' })
  let text = ''
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    text += new TextDecoder().decode(chunk.value)
    if (text.includes('event: dhcp')) break
  }
  clearTimeout(giveUp)
  const delay = performance.now() - t0
  t.comment(`SSE tail delay A→B: ${delay.toFixed(0)} ms (batchMs 50, pollMs 100)`)
  t.match(text, /id: \d+\nevent: dhcp\ndata: \{"machine":"52:54:00:dd:00:01"/)
  t.ok(delay < 10_000, 'within a generous bound')
})

t.test('no password, registered secret or secret-named field reaches a stored row', async (t) => {
  const database = await createDatabase(t)
  const r = await replica(t, database)
  const registered = `reg-${Math.random().toString(36).slice(2)}-secret`
  const password = `pw-${Math.random().toString(36).slice(2)}-hunter2`
  const token = `tok-${Math.random().toString(36).slice(2)}-abcdef`
  for (const s of [registered, password, token]) trailSecret(s)
  registerSecret(registered)
  const hostile = encodeURIComponent(`${registered}\u0000\u001b[31m`)
  t.equal((await boot(r, `mac=${MAC}&username=alice&password=${password}&hostname=${hostile}&serial=${registered}`)).statusCode, 200)
  r.bp.runtime.timeline.record({ mac: MAC }, 'callback', 'built', { token, installerPassword: password, note: `x${registered}y`, ['k'.repeat(40)]: token })
  await store(r).flush()
  const { rows } = await r.db.query<{ t: string }>(
    `SELECT fields::text AS t FROM bp_timeline_events UNION ALL SELECT summary::text FROM bp_timeline_machines UNION ALL SELECT record FROM bp_decisions UNION ALL SELECT req_id FROM bp_decisions`,
    [],
  )
  const lines = rows.map((x) => x.t)
  trailLines(lines)
  t.ok(lines.length >= 4, `${lines.length} stored rows read`)
  for (const s of [registered, password, token])
    t.notOk(
      lines.some((l) => l.includes(s)),
      `never stored: ${s.slice(0, 4)}…`,
    )
  t.ok(
    lines.some((l) => l.includes('"user": "alice"')),
    'the login event keeps the user',
  )
})

t.test('the database stops: /boot answers, events queue to the bound then drop (counted), and are stored when it is back', async (t) => {
  const database = await createDatabase(t)
  const r = await replica(t, database, { queueMax: 20, batchMs: 50 })
  await database.cluster.stop('immediate')
  t.teardown(() => (database.cluster.running ? undefined : database.cluster.start()))
  const t0 = performance.now()
  for (let i = 0; i < 30; i++) t.equal((await boot(r, `mac=52:54:00:dd:01:${i.toString(16).padStart(2, '0')}`)).statusCode, 200)
  const bootsMs = performance.now() - t0
  t.comment(`30 boots with the database down: ${bootsMs.toFixed(0)} ms`)
  await store(r).flush()
  t.same(store(r).queued, { events: 20, decisions: 20 }, 'queued up to queueMax')
  t.same(store(r).dropped, { events: 10, decisions: 10 }, 'the oldest dropped and counted')
  const metrics = (await r.bp.app.inject({ url: '/metrics' })).body
  t.match(metrics, /bootpolicy_timeline_store_dropped_total\{what="event"\} 10/)
  t.match(metrics, /bootpolicy_timeline_store_queued\{what="decision"\} 20/)
  t.equal((await r.get('/api/machines')).status, 503, 'the shared view says the database is away')

  await database.cluster.start()
  const until = Date.now() + 60_000
  while (store(r).queued.events > 0 && Date.now() < until) await new Promise((res) => setTimeout(res, 100))
  t.same(store(r).queued, { events: 0, decisions: 0 }, 'written once the database is back')
  const list = await r.get('/api/machines?limit=1000')
  t.equal(list.total, 20, 'the 20 newest machines are stored')
  t.equal(list.machines[0].id, '52:54:00:dd:01:1d', 'the last boot is the most recent')
  const { rows } = await r.db.query<{ n: string }>('SELECT count(*) AS n FROM bp_decisions', [])
  t.equal(rows[0]!.n, '20')
})

t.test('retention deletes by age and by row count, one replica at a time', async (t) => {
  const database = await createDatabase(t)
  const r = await replica(t, database, { retention: { maxEvents: 5, maxDecisions: 3, maxMachines: 4, maxAgeMs: 3600_000 } })
  // Machines are ranked by when they were last seen (ms): two boots in one millisecond would tie.
  for (let i = 0; i < 8; i++) {
    t.equal((await boot(r, `mac=52:54:00:dd:02:0${i}`)).statusCode, 200)
    await new Promise((res) => setTimeout(res, 5))
  }
  await store(r).flush()
  const count = async (table: string) => Number((await r.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`, [])).rows[0]!.n)
  t.same([await count('bp_timeline_events'), await count('bp_decisions'), await count('bp_timeline_machines')], [8, 8, 8])
  // Another replica holds the retention lock: this one skips.
  const other = await pgBackend(t, database)
  let release!: () => void
  let locked!: () => void
  const lockHeld = new Promise<void>((res) => (locked = res))
  const held = other.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtextextended('timeline/retention', 0))", [])
    locked()
    await new Promise<void>((res) => (release = res))
  })
  // Once the lock is held (a fixed 200 ms did not promise it); a transaction that fails first rejects here.
  await Promise.race([lockHeld, held])
  t.equal(await store(r).retain(), undefined, 'skipped while another replica runs it')
  release()
  await held
  t.same(await store(r).retain(), { events: 3, decisions: 5, machines: 4 }, 'the newest rows are kept up to each bound')
  const kept = await r.get('/api/machines?limit=100')
  t.same(
    kept.machines.map((m: { id: string }) => m.id),
    ['52:54:00:dd:02:07', '52:54:00:dd:02:06', '52:54:00:dd:02:05', '52:54:00:dd:02:04'],
  )
  t.same(await store(r).retain(Date.now() + 2 * 3600_000), { events: 5, decisions: 3, machines: 4 }, 'two hours later everything is past maxAgeMs')
})

t.test('a burst of parallel boots is stored whole, in batches', async (t) => {
  const database = await createDatabase(t)
  const [a, b] = [await replica(t, database, { batchMax: 64 }), await replica(t, database, { batchMax: 64 })]
  const n = 300
  const res = await Promise.all(Array.from({ length: n }, (_, i) => boot(i % 2 ? a : b, `mac=52:54:00:dd:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`)))
  t.ok(
    res.every((x) => x.statusCode === 200),
    'every boot answered',
  )
  const until = Date.now() + 60_000
  while ((store(a).queued.events > 0 || store(b).queued.events > 0) && Date.now() < until) await new Promise((r) => setTimeout(r, 100))
  t.same((await a.get('/api/machines?limit=1')).total, n)
  const { rows } = await a.db.query<{ n: string; gaps: string }>('SELECT count(*) AS n, max(id) - min(id) + 1 - count(*) AS gaps FROM bp_timeline_events', [])
  t.same(rows[0], { n: String(n), gaps: '0' }, 'every event once')
  t.same(store(a).dropped, { events: 0, decisions: 0 })
})

t.test('a /boot that claims an address moves its bootstrap onto the MAC in the database too, stored or still queued', async (t) => {
  const database = await createDatabase(t)
  const [a, b] = [await replica(t, database), await replica(t, database)]
  const cases = [
    { ip: '192.0.2.21', mac: '52:54:00:dd:01:01', storedFirst: true },
    { ip: '192.0.2.22', mac: '52:54:00:dd:01:02', storedFirst: false },
  ]
  for (const c of cases) {
    t.equal((await a.bp.app.inject({ url: '/boot.ipxe', remoteAddress: c.ip })).statusCode, 200)
    if (c.storedFirst) {
      await store(a).flush()
      t.ok(
        (await b.get('/api/machines')).machines.some((m: { id: string }) => m.id === `ip:${c.ip}`),
        'the bootstrap was stored under the address first',
      )
    }
    t.equal((await a.bp.app.inject({ url: `/boot?mac=${c.mac}&buildarch=x86_64&platform=efi`, remoteAddress: c.ip })).statusCode, 200)
  }
  await store(a).flush()
  for (const r of [a, b]) {
    const ids = (await r.get('/api/machines')).machines.map((m: { id: string }) => m.id)
    t.same(
      ids.filter((id: string) => id.startsWith('ip:')),
      [],
      'no machine is left under an address',
    )
    for (const c of cases) {
      const tl = await r.get(`/api/machines/${c.mac}/timeline`)
      t.same(
        tl.events.map((e: { source: string; type: string }) => `${e.source}:${e.type}`),
        ['http:bootstrap', 'http:decision'],
        `${c.mac}: bootstrap, then decision (${c.storedFirst ? 'stored' : 'queued'} before the claim)`,
      )
      t.equal((await r.get('/api/machines')).machines.find((m: { id: string }) => m.id === c.mac).ip, c.ip)
    }
  }
})
