// The PostgreSQL test harness (test/helpers/postgres.ts) itself: a real server, password auth over
// TCP, one database per test, outage and recovery with the data intact.
import pg from 'pg'
import t from 'tap'
import { clientConfig, createDatabase, startPostgres } from '../../helpers/postgres.js'

t.test('a database per test, reachable over TCP with the password and refused without it', async (t) => {
  const db = await createDatabase(t)
  const other = await createDatabase(t)
  t.not(db.name, other.name)
  const c = new pg.Client(clientConfig(db))
  await c.connect()
  t.teardown(() => c.end())
  const { rows } = await c.query<{ v: string; who: string; db: string }>('SELECT version() AS v, current_user AS who, current_database() AS db')
  t.match(rows[0]!.v, /^PostgreSQL 15\./)
  t.equal(rows[0]!.who, 'bp_test')
  t.equal(rows[0]!.db, db.name)
  const bad = new pg.Client({ ...clientConfig(db), password: 'wrong' })
  await t.rejects(bad.connect(), { code: '28P01' }, 'wrong password refused by the server')
})

t.test('an immediate stop loses no committed row; start brings it back', async (t) => {
  const db = await createDatabase(t)
  const c = new pg.Client(clientConfig(db))
  await c.connect()
  await c.query('CREATE TABLE x (n int)')
  await c.query('INSERT INTO x VALUES (42)')
  c.on('error', () => undefined)
  const cl = await startPostgres()
  await cl.stop('immediate')
  t.equal(cl.running, false)
  await t.rejects(c.query('SELECT 1'), 'the old connection is dead')
  await cl.start()
  const d = new pg.Client(clientConfig(db))
  await d.connect()
  t.teardown(() => d.end())
  const { rows } = await d.query<{ n: number }>('SELECT n FROM x')
  t.same(rows, [{ n: 42 }])
})
