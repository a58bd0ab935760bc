// Several replicas on one real PostgreSQL 15 database: migrations applied once when they start
// together, locks, counters, compare-and-set and notifications across replicas, a database that
// goes away and comes back, a replica killed mid-transaction, and secrets kept out of errors.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { BootpolicyError } from '../../../core/errors/bp-error.js'
import { MigrationRegistry } from '../../../core/state/migrations.js'
import { postgresSettings } from '../../../core/state/open-state-backend.js'
import { PostgresStateBackend } from '../../../core/state/postgres-backend.js'
import { createDatabase, startPostgres } from '../../helpers/postgres.js'
import { pgBackend, pgSettings } from '../../helpers/state-backends.js'
import { waitUntil } from '../../helpers/wait-until.js'

const dhcp = [
  { version: 1, name: 'leases', sql: 'CREATE TABLE bp_test_leases (mac text PRIMARY KEY)' },
  { version: 2, name: 'expiry', sql: 'ALTER TABLE bp_test_leases ADD COLUMN expires_at timestamptz' },
]

t.test('replicas starting at once apply every migration exactly once; components number their own', async (t) => {
  const db = await createDatabase(t)
  const registries = Array.from({ length: 4 }, () => {
    const r = new MigrationRegistry()
    r.register('dhcp', dhcp)
    return r
  })
  const replicas = await Promise.all(registries.map((registry) => pgBackend(t, db, { registry })))
  const { rows } = await replicas[0]!.query<{ component: string; version: number; name: string }>('SELECT component, version, name FROM bp_schema_migrations ORDER BY component, version', [])
  t.same(rows, [
    { component: 'dhcp', version: 1, name: 'leases' },
    { component: 'dhcp', version: 2, name: 'expiry' },
    { component: 'state', version: 1, name: 'documents and counters' },
  ])
  t.same(await replicas[1]!.migrate(), [], 'nothing left to apply')
  const status = await replicas[2]!.migrationStatus()
  t.same(
    status.map((s) => [s.component, s.applied, s.known, s.pending.length]),
    [
      ['dhcp', 2, 2, 0],
      ['state', 1, 1, 0],
    ],
  )
  t.throws(() => registries[0]!.register('dhcp', dhcp), /twice/)
  t.throws(() => new MigrationRegistry().register('x', [{ version: 2, name: 'gap', sql: 'SELECT 1' }]), /version 1/)
})

t.test('a failing migration rolls back whole; a newer database and manual mode with pending steps refuse to start', async (t) => {
  const db = await createDatabase(t)
  const bad = new MigrationRegistry()
  bad.register('broken', [
    { version: 1, name: 'ok', sql: 'CREATE TABLE bp_test_ok (n int)' },
    { version: 2, name: 'half', sql: 'CREATE TABLE bp_test_half (n int); SELECT no_such_function()' },
  ])
  const err = await PostgresStateBackend.open(postgresSettings(pgSettings(db)), { registry: bad }).catch((e: unknown) => e)
  t.match(err, { code: 'BP_ERR_STATE_MIGRATION', message: /broken.*migration 2 \(half\) failed.*no_such_function/ })
  const b = await pgBackend(t, db)
  const { rows } = await b.query<{ half: string | null; ok: string | null }>("SELECT to_regclass('bp_test_half')::text AS half, to_regclass('bp_test_ok')::text AS ok", [])
  t.same(rows[0], { half: null, ok: 'bp_test_ok' }, 'step 1 kept, step 2 left no table behind')
  t.same(
    (await b.migrationStatus()).map((s) => [s.component, s.applied]),
    [['state', 1]],
    'a registry without `broken` lists only what it knows',
  )
  await b.query("INSERT INTO bp_schema_migrations (component, version, name) VALUES ('state', 2, 'from the future')", [])
  await t.rejects(PostgresStateBackend.open(postgresSettings(pgSettings(db))), { code: 'BP_ERR_STATE_MIGRATION', message: /database is at version 2.*knows only 1/ })

  const fresh = await createDatabase(t)
  await t.rejects(PostgresStateBackend.open(postgresSettings(pgSettings(fresh, { migrate: 'manual' }))), { code: 'BP_ERR_STATE_MIGRATION', message: /bootpolicy state migrate/ })
})

t.test('two replicas: locks exclude each other, counters and compare-and-set add up, changes are heard', async (t) => {
  const db = await createDatabase(t)
  const [a, b] = [await pgBackend(t, db), await pgBackend(t, db)]
  let inside = 0
  let most = 0
  await Promise.all(
    Array.from({ length: 16 }, (_, i) =>
      (i % 2 ? a : b).withLock('user:alice', async () => {
        inside++
        most = Math.max(most, inside)
        await sleep(10)
        inside--
      }),
    ),
  )
  t.equal(most, 1, 'never two holders across replicas')

  const counts = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).addToCounter('a:10.0.0.9', 1, 60_000)))
  t.same(
    counts.map((w) => w.count).sort((x, y) => x - y),
    Array.from({ length: 60 }, (_, i) => i + 1),
  )

  await a.write('n', 0)
  const inc = async (r: PostgresStateBackend): Promise<void> => {
    for (;;) {
      const cur = (await r.get<number>('n'))!
      if ((await r.compareAndSet('n', cur.version, cur.value + 1)) !== undefined) return
    }
  }
  await Promise.all(Array.from({ length: 30 }, (_, i) => inc(i % 2 ? a : b)))
  t.equal(await b.read('n'), 30)

  const heard: { p: string | undefined; at: number }[] = []
  const docs: string[] = []
  b.subscribe('cache', (p) => heard.push({ p, at: Date.now() }))
  b.subscribe('doc', (p) => p && docs.push(p))
  await a.publish('cache', 'policy:abc')
  // From the publish's return, and generous: 2 s from before it was too tight on a loaded host.
  const sent = Date.now()
  await a.write('pxelinux/01-52-54-00-12-34-56', 'DEFAULT x')
  await waitUntil(() => heard.length >= 1 && docs.includes('pxelinux/01-52-54-00-12-34-56'), 30_000)
  t.same(
    heard.map((h) => h.p),
    ['policy:abc'],
  )
  const took = (heard[0]?.at ?? Number.POSITIVE_INFINITY) - sent
  t.ok(took < 10_000, `heard on B within 10 s (took ${took} ms)`)
  t.ok(docs.includes('pxelinux/01-52-54-00-12-34-56'), "A's document change notified to B")
  // A transaction that rolls back notifies nothing: the notification is part of the statement.
  await t.rejects(
    a.transaction(async (tx) => {
      await tx.query("UPDATE bp_state_documents SET body = '2' WHERE key = $1", ['n'])
      await tx.query("SELECT pg_notify('bp_state', $1)", [JSON.stringify({ o: 'x', c: 'cache', p: 'rolled back' })])
      throw new Error('abort')
    }),
    /abort/,
  )
  await sleep(300)
  t.equal(
    heard.find((h) => h.p === 'rolled back'),
    undefined,
  )
  t.equal(await b.read('n'), 30)
})

t.test('the database goes away and comes back: statements fail with BP_ERR_STATE_UNAVAILABLE, then work again without a restart', async (t) => {
  const db = await createDatabase(t)
  const lines: { msg: string; obj: object }[] = []
  const log = { warn: (obj: object, msg: string) => lines.push({ obj, msg }), info: () => undefined, error: (obj: object, msg: string) => lines.push({ obj, msg }) }
  const [a, b] = [await pgBackend(t, db, { settings: { connectTimeoutMs: 1000 } }), await pgBackend(t, db, { settings: { connectTimeoutMs: 1000 }, log })]
  await a.write('k', 'before')
  const heard: (string | undefined)[] = []
  b.subscribe('cache', (p) => heard.push(p))
  const events: string[] = []
  b.on('down', () => events.push('down'))
  b.on('up', () => events.push('up'))
  const cluster = await startPostgres()
  await cluster.stop('immediate')
  t.teardown(() => (cluster.running ? undefined : cluster.start()))
  const err = await b.read('k').catch((e: unknown) => e)
  t.ok(err instanceof BootpolicyError)
  t.match(err, { code: 'BP_ERR_STATE_UNAVAILABLE', message: /127\.0\.0\.1/ })
  t.notOk(b.available)
  await t.rejects(
    b.withLock('x', async () => 1),
    { code: 'BP_ERR_STATE_UNAVAILABLE' },
  )
  await t.rejects(b.addToCounter('c', 1, 1000), { code: 'BP_ERR_STATE_UNAVAILABLE' })
  await cluster.start()
  // The pool reconnects on the next statement; the listener by itself, then says it may have missed some.
  t.equal(await b.read('k'), 'before', 'committed before the crash, still there')
  t.ok(b.available)
  for (let i = 0; i < 150 && !b.listening; i++) await sleep(20)
  t.ok(b.listening, 'the listener reconnected')
  t.ok(heard.includes(undefined), 'subscribers were told they may have missed changes')
  await a.publish('cache', 'after')
  for (let i = 0; i < 100 && !heard.includes('after'); i++) await sleep(20)
  t.ok(heard.includes('after'), 'and hear new ones')
  t.same(events.slice(0, 2), ['down', 'up'])
  t.ok(
    lines.some((l) => l.msg === 'state database unreachable'),
    'a loud log line',
  )
})

t.test('a replica killed mid-transaction loses nothing acknowledged and leaves no lock behind', async (t) => {
  const db = await createDatabase(t)
  const b = await pgBackend(t, db, { settings: { lockTimeoutMs: 5000 } })
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../../helpers/state-replica-child.ts'), db.url, db.passwordFile, '40'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString()
  })
  for (let i = 0; i < 600 && !out.includes('holding'); i++) await sleep(50)
  t.match(out, /holding/)
  const acked = [...out.matchAll(/acked (\d+)/g)].map((m) => Number(m[1]))
  child.kill('SIGKILL')
  await once(child, 'exit')
  for (const n of acked) t.same(await b.read(`acked:${n}`), { n }, `acked:${n}`)
  t.equal(acked.length, 40)
  t.equal(await b.read('uncommitted'), undefined, 'the open transaction did not commit')
  const started = Date.now()
  t.equal(await b.withLock('crash-lock', async () => 'mine'), 'mine', 'the dead holder released the lock')
  t.ok(Date.now() - started < 5000)
})

t.test('secrets never reach an error: wrong password, password in the URL, unreadable password file', async (t) => {
  const db = await createDatabase(t)
  const wrong = `wrong-${Math.random().toString(36).slice(2)}-secret`
  const pwFile = join(db.cluster.dir, `${db.name}.wrong`)
  writeFileSync(pwFile, `${wrong}\n`, { mode: 0o600 })
  const seen = (e: unknown): string => {
    const err = e as Error & { cause?: unknown }
    return [err.message, err.stack, JSON.stringify(err), String(err.cause), JSON.stringify(err.cause), (err.cause as Error | undefined)?.stack].join('\n')
  }
  const e1 = await PostgresStateBackend.open(postgresSettings(pgSettings(db, { passwordFile: pwFile }))).catch((e: unknown) => e)
  t.match(e1, { code: 'BP_ERR_STATE_UNAVAILABLE', message: /password authentication failed/ })
  t.notMatch(seen(e1), wrong)
  t.notMatch(seen(e1), db.password)
  const inUrl = db.url.replace('bp_test@', `bp_test:${encodeURIComponent(db.password)}@`)
  const e2 = await PostgresStateBackend.open(postgresSettings({ backend: 'postgres', url: inUrl })).catch((e: unknown) => e)
  t.match(e2, { code: 'BP_ERR_STATE_CONFIG', message: /must not carry a password/ })
  t.notMatch(seen(e2), db.password)
  const e3 = await PostgresStateBackend.open(postgresSettings({ backend: 'postgres', url: `postgres://bp_test:${db.password}@[bad` })).catch((e: unknown) => e)
  t.match(e3, { code: 'BP_ERR_STATE_CONFIG', message: /not a URL/ })
  t.notMatch(seen(e3), db.password)
  const e4 = await PostgresStateBackend.open(postgresSettings(pgSettings(db, { passwordFile: '/nonexistent/pw' }))).catch((e: unknown) => e)
  t.match(e4, { code: 'BP_ERR_STATE_CONFIG', message: /passwordFile \/nonexistent\/pw cannot be read \(ENOENT\)/ })
  const e5 = await PostgresStateBackend.open(postgresSettings({ backend: 'postgres', url: `${db.url}?password=${db.password}` })).catch((e: unknown) => e)
  t.match(e5, { code: 'BP_ERR_STATE_CONFIG', message: /unknown parameter "password"/ })
  t.notMatch(seen(e5), db.password)
  // PGPASSWORD-style: the password from the environment works.
  const env = await PostgresStateBackend.open(postgresSettings({ backend: 'postgres', url: db.url, passwordEnv: 'BP_TEST_PG_PW' }), { env: { BP_TEST_PG_PW: db.password } })
  t.teardown(() => env.close())
  t.equal(await env.serverVersion().then((v) => v.split('.')[0]), '15')
  t.throws(() => postgresSettings({ backend: 'postgres' }), { code: 'BP_ERR_STATE_CONFIG', message: /state\.url is not set/ })
})

t.test('hostile values are data, never SQL', async (t) => {
  const b = await pgBackend(t)
  const evil = "'); DROP TABLE bp_state_documents; --"
  await b.write('k', { evil, quote: "O'Brien", backslash: '\\x00' })
  await b.publish('cache', evil)
  await b.addToCounter('u:x', 1, 1000)
  t.same(await b.read('k'), { evil, quote: "O'Brien", backslash: '\\x00' })
  t.same(await b.keys("'"), [])
  t.same(await b.keys('%'), [], 'a LIKE wildcard is a plain character')
  t.same(await b.keys('_'), [])
  const { rows } = await b.query<{ n: string }>('SELECT count(*) AS n FROM bp_state_documents', [])
  t.equal(Number(rows[0]!.n), 1)
})
