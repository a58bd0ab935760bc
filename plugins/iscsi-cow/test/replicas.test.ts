/**
 * Two replicas (two provisioners, each with its own PostgreSQL backend on one database) provisioning
 * the same user at once: one overlay, one target, one record, visible to both; the lock that
 * serializes them is the database's, so neither replica's lock files are used. The files backend
 * keeps the files layout (the other tests here).
 */
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { postgresSettings } from '../../../core/state/open-state-backend.js'
import { PostgresStateBackend } from '../../../core/state/postgres-backend.js'
import { createDatabase } from '../../../test/helpers/postgres.js'
import { pgSettings } from '../../../test/helpers/state-backends.js'
import { iscsiEnv } from './helpers.js'

t.setTimeout(300_000)

t.test('two replicas on one database provision the same user at once: one disk, one record', async (t) => {
  const db = await createDatabase(t)
  const env = await iscsiEnv()
  const [sa, sb] = await Promise.all([0, 1].map(() => PostgresStateBackend.open(postgresSettings(pgSettings(db)))))
  const a = env.open(undefined, sa)
  const b = env.open(undefined, sb)
  t.teardown(async () => {
    await a.stopAll().catch(() => undefined)
    await Promise.all([sa!.close(), sb!.close()])
    await env.cleanup()
  })
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).attach('fc29', 'alice')))
  const targets = (await a.tgt.showTargets()).filter((x) => x.name === 'iqn.edu.example.server-01:fc29-alice')
  t.equal(targets.length, 1, 'one target')
  t.same(readdirSync(join(env.stateDir, 'overlays', 'fc29')), ['alice.qcow2'], 'one overlay')
  t.same(await sa!.keys('iscsi-cow/users/'), ['iscsi-cow/users/fc29/alice'], 'one record in the database')
  const [ra, rb] = [await a.store.listUsers(), await b.store.listUsers()]
  t.equal(ra.length, 1)
  t.same(ra, rb, 'both replicas list the same record')
  t.equal(ra[0]!.iqn, 'iqn.edu.example.server-01:fc29-alice')
  t.ok(await sb!.get('iscsi-cow/bases/fc29'), 'the base identity is shared too')
  t.equal(new Set(results.map((r) => r.chapSecret)).size, 10, 'every login got its own secret')
  t.notOk(existsSync(join(env.stateDir, 'users', 'fc29', 'alice.json')), 'no record file: the database holds it')
  t.same(readdirSync(join(env.stateDir, 'locks')), [], 'no lock file: the database lock serialized them')
})
