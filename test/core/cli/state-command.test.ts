/** `bootpolicy state migrate|status|import` as an admin runs it (built CLI), on a real PostgreSQL 15. */
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { PACKAGE_ROOT } from '../../../core/config/load-config.js'
import { DHCP_MIGRATIONS } from '../../../core/dhcp/lease-migrations.js'
import { FileStateBackend } from '../../../core/state/file-backend.js'
import { openStateBackend } from '../../../core/state/open-state-backend.js'
import { TIMELINE_MIGRATIONS } from '../../../core/timeline/timeline-migrations.js'
import { createDatabase } from '../../helpers/postgres.js'
import { pgBackend } from '../../helpers/state-backends.js'

t.setTimeout(600_000)

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin/bootpolicy.js'), ...args], { env: { PATH: process.env.PATH, ...env } })
    let out = ''
    let err = ''
    p.stdout.on('data', (d: Buffer) => (out += d.toString()))
    p.stderr.on('data', (d: Buffer) => (err += d.toString()))
    p.on('error', reject)
    p.on('close', (code) => resolve({ code, out, err }))
  })
}

function site(t: { teardown(fn: () => unknown): void }, state: object): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'bp-state-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const config = join(dir, 'bootpolicy.json')
  writeFileSync(config, JSON.stringify({ stateDir: 'var', state }))
  return { dir, config }
}

t.test('status shows pending migrations (exit 1) without applying them; migrate applies them; status then exits 0', async (t) => {
  const db = await createDatabase(t)
  const { config } = site(t, { backend: 'postgres', url: db.url, passwordFile: db.passwordFile, migrate: 'manual' })
  const before = await cli(['state', 'status', '--config', config])
  t.equal(before.code, 1, before.err)
  t.match(before.out, new RegExp(`backend: postgres bp_test@127\\.0\\.0\\.1:\\d+/${db.name} \\(PostgreSQL 15`))
  t.match(before.out, /state: version 0 of 1, 1 pending: 1 documents and counters/)
  t.match(before.out, new RegExp(`dhcp: version 0 of ${DHCP_MIGRATIONS.length}, ${DHCP_MIGRATIONS.length} pending`), 'the lease tables are listed too')
  t.match(before.out, new RegExp(`timeline: version 0 of ${TIMELINE_MIGRATIONS.length}, ${TIMELINE_MIGRATIONS.length} pending`), 'and the timeline tables')
  t.notMatch(before.out + before.err, db.password)
  const m = await cli(['state', 'migrate', '--config', config])
  t.equal(m.code, 0, m.err)
  t.match(m.out, /state: version 1 \(up to date\)/)
  const after = await cli(['state', 'status', '--config', config, '--format', 'json'])
  t.equal(after.code, 0, after.err)
  const json = JSON.parse(after.out) as { target: string; components: { component: string; applied: number }[] }
  t.same(
    json.components.map((c) => [c.component, c.applied]).sort(),
    [
      ['dhcp', DHCP_MIGRATIONS.length],
      ['state', 1],
      ['timeline', TIMELINE_MIGRATIONS.length],
    ],
    'every core component is at its latest version',
  )
  t.notMatch(after.out, db.password)
  // What a replica with state.migrate "manual" does at start: refuse a schema behind its own. After
  // `state migrate` it starts.
  const replica = await openStateBackend({ backend: 'postgres', url: db.url, passwordFile: db.passwordFile, migrate: 'manual' } as never, '/nonexistent')
  await replica.close()
  t.pass('a manual-migrate replica starts on the migrated schema')
})

t.test('import copies the files backend into PostgreSQL, keeps existing documents and can run again', async (t) => {
  const db = await createDatabase(t)
  const { dir, config } = site(t, { backend: 'postgres', url: db.url })
  const files = new FileStateBackend(join(dir, 'var', 'state'))
  mkdirSync(join(dir, 'var', 'state'), { recursive: true })
  await files.write('iscsi-cow/users/lab:alice', { overlay: 'alice.qcow2' })
  await files.write('pxelinux/01-52-54-00-00-00-01', 'DEFAULT local')
  await files.write('clash', 'from files')
  const b = await pgBackend(t, db)
  await b.write('clash', 'from the database')
  // The password through PGPASSWORD this time.
  const r = await cli(['state', 'import', '--config', config], { PGPASSWORD: db.password })
  t.equal(r.code, 1, 'a conflict exits 1')
  t.match(r.out, /^documents: 2 imported, 0 already there, 1 conflicts \(from .*var\/state\)$/m)
  t.match(r.out, /^conflict: documents clash: differs in the database \(kept the database's\)$/m)
  t.same(await b.read('iscsi-cow/users/lab:alice'), { overlay: 'alice.qcow2' })
  t.equal(await b.read('pxelinux/01-52-54-00-00-00-01'), 'DEFAULT local')
  t.equal(await b.read('clash'), 'from the database', 'never overwritten')
  const again = await cli(['state', 'import', '--config', config, '--format', 'json'], { PGPASSWORD: db.password })
  t.same(JSON.parse(again.out).kinds.documents.imported, [])
  t.same(JSON.parse(again.out).kinds.documents.unchanged, ['iscsi-cow/users/lab:alice', 'pxelinux/01-52-54-00-00-00-01'])
})

t.test('errors: a wrong password or no database exits 2 naming the target and never the secret; files backend has no migrate', async (t) => {
  const db = await createDatabase(t)
  const { config } = site(t, { backend: 'postgres', url: db.url })
  const wrong = 'not-the-password-0123456789'
  const r = await cli(['state', 'status', '--config', config], { PGPASSWORD: wrong })
  t.equal(r.code, 2)
  t.match(r.err, /BP_ERR_STATE_UNAVAILABLE: State database bp_test@127\.0\.0\.1:\d+\/\w+ is unavailable: password authentication failed/)
  t.notMatch(r.err + r.out, wrong)
  const none = site(t, { backend: 'postgres', url: 'postgres://bp_test@127.0.0.1:1/nothing', connectTimeoutMs: 500 })
  const r2 = await cli(['state', 'migrate', '--config', none.config], { PGPASSWORD: wrong })
  t.equal(r2.code, 2)
  t.match(r2.err, /BP_ERR_STATE_UNAVAILABLE.*ECONNREFUSED/)
  const files = site(t, {})
  const r3 = await cli(['state', 'status', '--config', files.config])
  t.equal(r3.code, 0, r3.err)
  t.match(r3.out, /backend: files \(.*var\/state\), 0 documents/)
  const r4 = await cli(['state', 'migrate', '--config', files.config])
  t.equal(r4.code, 2)
  t.match(r4.err, /needs state\.backend "postgres"/)
  const r5 = await cli(['state', 'frobnicate', '--config', files.config])
  t.equal(r5.code, 2)
})
