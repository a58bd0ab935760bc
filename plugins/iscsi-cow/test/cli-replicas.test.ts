/**
 * The upgrade of an iscsi-cow site to replicas on PostgreSQL, against a real tgtd and a real
 * PostgreSQL 15: `bootpolicy state import` copies the files layout's records (this plugin's
 * importState hook), and `bootpolicy iscsi list | show | reset` then go through the configured
 * state backend: they see a record a replica wrote, and reset waits for the database lock the
 * replicas take for that user.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { createLogger } from '../../../core/log/logger.js'
import { postgresSettings } from '../../../core/state/open-state-backend.js'
import { PostgresStateBackend } from '../../../core/state/postgres-backend.js'
import { createDatabase } from '../../../test/helpers/postgres.js'
import { pgSettings } from '../../../test/helpers/state-backends.js'
import { openIscsiCow } from '../index.js'
import { iscsiEnv, runCli as cli } from './helpers.js'

t.setTimeout(600_000)

t.test('state import copies the files layout; iscsi list/show/reset then use the shared records and lock', async (t) => {
  const db = await createDatabase(t)
  const env = await iscsiEnv()
  const stateDir = join(env.dir, 'var', 'plugins', 'iscsi-cow')
  env.track(stateDir)
  const replica = await PostgresStateBackend.open(postgresSettings(pgSettings(db)))
  const other = await PostgresStateBackend.open(postgresSettings(pgSettings(db)))
  let runtime: ReturnType<typeof openIscsiCow> | undefined
  t.teardown(async () => {
    // Alice's record is only in the database: the files-layout cleanup would not find her export.
    await runtime?.stopAll().catch(() => undefined)
    await Promise.all([replica.close(), other.close()])
    await env.cleanup()
  })
  const configFile = join(env.dir, 'bootpolicy.json')
  const state = { backend: 'postgres', url: db.url, passwordFile: db.passwordFile }
  writeFileSync(configFile, JSON.stringify({ stateDir: join(env.dir, 'var'), log: { level: 'silent' }, state, plugins: [{ name: 'iscsi-cow', options: env.options }] }))

  // The one-server site before the upgrade: bob's disk recorded in the files layout.
  const single = openIscsiCow(env.options, { baseDir: env.dir, stateDir, logger: createLogger('silent') })
  await single.attach('fc29', 'bob')
  t.ok(existsSync(join(stateDir, 'users', 'fc29', 'bob.json')))

  const dry = await cli('state', 'import', '--dry-run', '--config', configFile)
  t.equal(dry.code, 0, dry.err)
  t.match(dry.out, /^plugin:iscsi-cow: 2 to import, 0 already there, 0 conflicts \(from .*var\/plugins\/iscsi-cow\)$/m)
  t.same(await replica.keys('iscsi-cow/'), [], 'a dry run writes nothing')
  const imported = await cli('state', 'import', '--config', configFile, '--format', 'json')
  t.equal(imported.code, 0, imported.err)
  t.same(JSON.parse(imported.out).kinds['plugin:iscsi-cow'].imported, ['iscsi-cow/users/fc29/bob', 'iscsi-cow/bases/fc29'])
  t.same(await replica.keys('iscsi-cow/'), ['iscsi-cow/bases/fc29', 'iscsi-cow/users/fc29/bob'])
  t.equal((await replica.query('SELECT count(*) FROM bp_dhcp_leases', [])).rowCount, 1, 'the import applied the dhcp migration it writes to')
  const again = await cli('state', 'import', '--config', configFile)
  t.match(again.out, /^plugin:iscsi-cow: 0 imported, 2 already there, 0 conflicts/m, 'a second run imports nothing')

  // A replica provisions alice: the record is only in the database.
  runtime = openIscsiCow(env.options, { baseDir: env.dir, stateDir, logger: createLogger('silent'), state: replica })
  await runtime.attach('fc29', 'alice')
  t.notOk(existsSync(join(stateDir, 'users', 'fc29', 'alice.json')), 'no record file for alice')
  const list = await cli('iscsi', 'list', '--config', configFile, '--format', 'json')
  t.equal(list.code, 0, list.err)
  t.same(
    (JSON.parse(list.out) as { user: string }[]).map((d) => d.user),
    ['alice', 'bob'],
    'the CLI sees the record the replica wrote, and the imported one',
  )
  const show = await cli('iscsi', 'show', 'fc29', 'alice', '--config', configFile, '--format', 'json')
  t.equal(show.code, 0, show.err)
  t.match(JSON.parse(show.out), { instance: 'fc29', user: 'alice', iqn: 'iqn.edu.example.server-01:fc29-alice', sessions: 0, deviceUp: true })
  const text = await cli('iscsi', 'show', 'fc29', 'alice', '--config', configFile)
  t.match(text.out, /fc29 +alice +\d+ +0 +up .* iqn\.edu\.example\.server-01:fc29-alice/)
  const none = await cli('iscsi', 'show', 'fc29', 'carol', '--config', configFile)
  t.equal(none.code, 1)
  t.equal(none.out, 'fc29/carol: no iscsi-cow disk\n')

  // reset takes the replicas' lock for alice: while another replica holds it, reset waits.
  let release!: () => void
  const held = new Promise<void>((r) => (release = r))
  let locked!: () => void
  const taken = new Promise<void>((r) => (locked = r))
  const holder = other.withLock('iscsi-cow/lock/iqn.edu.example.server-01:fc29-alice', async () => {
    locked()
    await held
  })
  await taken
  let finished = false
  const reset = cli('iscsi', 'reset', 'fc29', 'alice', '--config', configFile).then((r) => {
    finished = true
    return r
  })
  await sleep(1000)
  // No assertion while reset runs: the CLI's captured stdout would swallow tap's line.
  const waited = !finished
  release()
  await holder
  const done = await reset
  t.ok(waited, 'reset waited while another replica held the lock')
  t.equal(done.out, 'fc29/alice: target removed\n', done.err)
  t.same(readdirSync(join(stateDir, 'locks')), [], 'no lock file: the database lock serialized it')
  t.notOk(
    (await runtime.tgt.showTargets()).some((x) => x.name === 'iqn.edu.example.server-01:fc29-alice'),
    'the target is gone',
  )
})

t.test('with the files backend the iscsi CLI keeps the files layout', async (t) => {
  const env = await iscsiEnv()
  const stateDir = join(env.dir, 'var', 'plugins', 'iscsi-cow')
  env.track(stateDir)
  t.teardown(() => env.cleanup())
  const configFile = join(env.dir, 'bootpolicy.json')
  writeFileSync(configFile, JSON.stringify({ stateDir: join(env.dir, 'var'), log: { level: 'silent' }, plugins: [{ name: 'iscsi-cow', options: env.options }] }))
  await openIscsiCow(env.options, { baseDir: env.dir, stateDir, logger: createLogger('silent') }).attach('fc29', 'dave')
  const show = await cli('iscsi', 'show', 'fc29', 'dave', '--config', configFile, '--format', 'json')
  t.equal(show.code, 0, show.err)
  t.match(JSON.parse(show.out), { user: 'dave', deviceUp: true })
})
