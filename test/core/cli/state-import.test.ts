/**
 * `bootpolicy state import` as an admin upgrading from the files backend (built CLI, real
 * PostgreSQL 15): a lease file written by the files lease backend, intents written by the files
 * intent store, documents; then a PostgreSQL replica serves the imported leases. Conflicts,
 * --dry-run, re-runs, and a kill -9 of the import half-way through.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { PACKAGE_ROOT } from '../../../core/config/load-config.js'
import { FileLeaseBackend } from '../../../core/dhcp/file-lease-backend.js'
import { ipToInt, sameSubnet } from '../../../core/dhcp/ipv4.js'
import type { LeaseChange } from '../../../core/dhcp/lease-backend.js'
import { DHCP_MIGRATIONS } from '../../../core/dhcp/lease-migrations.js'
import { PostgresLeaseBackend } from '../../../core/dhcp/postgres-lease-backend.js'
import { FileIntentStore } from '../../../core/lifecycle/file-intent-store.js'
import type { IntentRecord } from '../../../core/lifecycle/intent-types.js'
import { FileStateBackend } from '../../../core/state/file-backend.js'
import { MigrationRegistry } from '../../../core/state/migrations.js'
import type { PostgresStateBackend } from '../../../core/state/postgres-backend.js'
import { JsonFileStateStore } from '../../../core/state/state-store.js'
import { createDatabase, type PgDatabase } from '../../helpers/postgres.js'
import { pgBackend } from '../../helpers/state-backends.js'

t.setTimeout(900_000)

const BIN = join(PACKAGE_ROOT, 'bin/bootpolicy.js')

/** One process (bin/bootpolicy.js re-execs itself without --no-node-snapshot: a kill -9 must reach the importer). */
function start(args: string[], env: NodeJS.ProcessEnv) {
  const p = spawn(process.execPath, ['--no-node-snapshot', BIN, ...args], { env: { PATH: process.env.PATH, ...env } })
  let out = ''
  let err = ''
  p.stdout.on('data', (d: Buffer) => (out += d.toString()))
  p.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>((resolve, reject) => {
    p.on('error', reject)
    p.on('close', (code, signal) => resolve({ code, signal, out, err }))
  })
  return { p, done }
}

const cli = (args: string[], env: NodeJS.ProcessEnv) => start(args, env).done

interface Site {
  readonly dir: string
  readonly config: string
  readonly stateDir: string
  readonly env: NodeJS.ProcessEnv
}

function site(t: { teardown(fn: () => unknown): void }, db: PgDatabase): Site {
  const dir = mkdtempSync(join(tmpdir(), 'bp-state-import-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const config = join(dir, 'bootpolicy.json')
  writeFileSync(config, JSON.stringify({ stateDir: 'var', state: { backend: 'postgres', url: db.url } }))
  return { dir, config, stateDir: join(dir, 'var'), env: { PGPASSWORD: db.password } }
}

const POOL = { poolStart: '10.1.0.10', poolEnd: '10.1.15.250', reserved: new Map<number, string>(), excluded: new Set<number>(), inSubnet: (ip: string) => sameSubnet(ip, '10.1.0.0', '255.255.240.0') }
const mac = (i: number): string => `02:00:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`
const HOUR = 3_600_000

/** The files lease backend of a one-server site, as the DHCP service opens it. */
async function filesLeases(s: Site): Promise<FileLeaseBackend> {
  mkdirSync(s.stateDir, { recursive: true })
  const b = new FileLeaseBackend({ ...POOL, file: join(s.stateDir, 'dhcp-leases.json'), maxOffers: 64 })
  await b.load()
  return b
}

/** DISCOVER then REQUEST for client i, as full mode runs them. */
async function dora(b: FileLeaseBackend, i: number, leaseMs = HOUR): Promise<LeaseChange> {
  const ip = await b.reserve({ key: `mac:${mac(i)}`, mac: mac(i), holdMs: 30_000 })
  return (await b.bind({ key: `mac:${mac(i)}`, mac: mac(i), ip: ip!, leaseMs, renewal: false }))!
}

async function replicaLeases(t: { teardown(fn: () => unknown): void }, db: PgDatabase, server: string): Promise<{ state: PostgresStateBackend; leases: PostgresLeaseBackend }> {
  const registry = new MigrationRegistry()
  registry.register('dhcp', DHCP_MIGRATIONS)
  const state = await pgBackend(t, db, { registry })
  const leases = new PostgresLeaseBackend(state, { ...POOL, server })
  await leases.load()
  t.teardown(() => leases.close())
  return { state, leases }
}

function intent(i: number, expiresAt: number): IntentRecord {
  return {
    id: `intent-${i}`,
    machine: { by: 'mac', value: mac(i) },
    target: { profile: 'reinstall' },
    note: `machine ${i}`,
    expiresAt,
    setBy: 'admin',
    setAt: Date.now(),
    state: 'armed',
    tokensIssued: 0,
  }
}

t.test('leases, intents and documents are imported; a PostgreSQL replica then serves the imported leases', async (t) => {
  const db = await createDatabase(t)
  const s = site(t, db)
  // A one-server site: four clients bound, one declined address, one released, one expired.
  const files = await filesLeases(s)
  const changes = [await dora(files, 1), await dora(files, 2), await dora(files, 3), await dora(files, 4), await dora(files, 5), await dora(files, 6, 1)]
  const declinedIp = (await files.reserve({ key: `mac:${mac(7)}`, mac: mac(7), holdMs: 30_000 }))!
  changes.push((await files.decline(`mac:${mac(7)}`, declinedIp, HOUR, 30_000))!)
  changes.push((await files.release(`mac:${mac(5)}`, changes[4]!.lease.ip))!)
  await files.commit(changes)
  await files.close()
  const ipOf = (i: number) => changes[i - 1]!.lease.ip
  const intents = new FileIntentStore(new JsonFileStateStore(s.stateDir))
  await intents.arm(intent(1, Date.now() + HOUR), Date.now())
  await intents.arm(intent(2, Date.now() + HOUR), Date.now())
  await intents.arm(intent(3, Date.now() + 1), Date.now())
  await intents.arm(intent(9, Date.now() + HOUR), Date.now())
  await intents.clear({ by: 'mac', value: mac(9) }, 'admin', Date.now()) // history: not imported
  await new FileStateBackend(join(s.stateDir, 'state')).write('policies/last-good', { a: 1 })
  await sleep(20) // client 6's lease and intent 3 have expired

  // Another client already holds client 4's address in the database; intent 2's machine has another intent there.
  const a = await replicaLeases(t, db, '10.1.0.1')
  const taken = (await a.leases.bind({ key: 'mac:02:00:00:99:99:99', mac: '02:00:00:99:99:99', ip: ipOf(4), leaseMs: HOUR, renewal: false }))!
  t.same([...(await a.leases.commit([taken]))], [], 'the other client holds the address')
  await a.state.write('intents', { v: 1, active: [{ ...intent(2, Date.now() + HOUR), id: 'set-on-a-replica' }], ended: [] })

  const dry = await cli(['state', 'import', '--dry-run', '--config', s.config], s.env)
  t.equal(dry.code, 1, dry.err)
  t.match(dry.out, /^dry run: nothing was written\n/)
  t.match(dry.out, /leases: 4 to import, 0 already there, 1 conflicts, 2 expired skipped/)
  const rowsAfterDry = await a.state.query('SELECT key FROM bp_dhcp_leases', [])
  t.equal(rowsAfterDry.rowCount, 1, 'a dry run writes no lease')
  t.notOk(await a.state.get('policies/last-good'), 'nor a document')

  const r = await cli(['state', 'import', '--config', s.config], s.env)
  t.equal(r.code, 1, 'conflicts exit 1')
  t.match(r.out, /^documents: 1 imported, 0 already there, 0 conflicts \(from .*var\/state\)$/m)
  t.match(r.out, /^intents: 1 imported, 0 already there, 1 conflicts, 1 expired skipped \(from .*var\/intents\.json\)$/m)
  t.match(r.out, /^leases: 4 imported, 0 already there, 1 conflicts, 2 expired skipped \(from .*var\/dhcp-leases\.json\)$/m)
  t.match(
    r.out,
    new RegExp(`^conflict: leases ${ipOf(4).replace(/\./g, '\\.')} mac:${mac(4)}: the address is held by another client in the database \\(mac:02:00:00:99:99:99; kept the database's\\)$`, 'm'),
  )
  t.match(r.out, new RegExp(`^conflict: intents mac:${mac(2)}: the database holds another intent for this machine \\(set-on-a-replica; kept the database's\\)$`, 'm'))
  t.notMatch(r.out + r.err, db.password)

  const held = await a.leases.byAddress(ipOf(4))
  t.equal(held?.key, 'mac:02:00:00:99:99:99', 'never overwritten: the address is still the other client’s')
  t.equal((await a.leases.byClient(`mac:${mac(1)}`))?.ip, ipOf(1))
  t.equal((await a.leases.byAddress(declinedIp))?.state, 'declined', 'the decline came along, with its expiry')
  t.notOk(await a.leases.byClient(`mac:${mac(6)}`), 'the expired lease stayed behind')
  t.notOk(await a.leases.byClient(`mac:${mac(5)}`), 'the released one too')
  const doc = (await a.state.read<{ active: IntentRecord[] }>('intents'))!
  t.same(doc.active.map((x) => x.id).sort(), ['intent-1', 'set-on-a-replica'])
  t.same((doc as unknown as { ended: unknown[] }).ended, [], 'ended intents (history) stay behind')
  t.same(await a.state.read('policies/last-good'), { a: 1 })

  // Another replica serves the imported leases: a renewal keeps the address, a reboot is offered it again.
  const b = await replicaLeases(t, db, '10.1.0.2')
  const renewal = (await b.leases.bind({ key: `mac:${mac(1)}`, mac: mac(1), ip: ipOf(1), leaseMs: HOUR, renewal: true }))!
  t.same([...(await b.leases.commit([renewal]))], [], 'the renewal is not refused')
  t.equal((await b.leases.byClient(`mac:${mac(1)}`))?.ip, ipOf(1), 'client 1 keeps its address')
  t.equal(await b.leases.reserve({ key: `mac:${mac(2)}`, mac: mac(2), holdMs: 30_000 }), ipOf(2), 'client 2, rebooting, is offered its address again')
  const stranger = await b.leases.reserve({ key: 'mac:02:00:00:77:77:77', mac: '02:00:00:77:77:77', holdMs: 30_000 })
  t.notOk([ipOf(1), ipOf(2), ipOf(3), ipOf(4), declinedIp].includes(stranger!), `a new client gets a free address (${stranger})`)
  // The PostgreSQL backend leaves the check against other clients' leases to the commit, which
  // refuses the change (its client gets a NAK); the files backend refuses it at bind.
  const steal = await b.leases.bind({ key: 'mac:02:00:00:77:77:77', mac: '02:00:00:77:77:77', ip: ipOf(3), leaseMs: HOUR, renewal: false })
  const refused = steal ? await b.leases.commit([steal]) : undefined
  t.ok(steal === undefined || (refused instanceof Set && refused.has(steal)), "a new client cannot bind an imported client's address")
  t.equal((await b.leases.byAddress(ipOf(3)))?.key, `mac:${mac(3)}`, 'the address stays the imported client’s')

  // Run again: nothing new; what was imported is "already there", the conflicts stay conflicts.
  const again = await cli(['state', 'import', '--config', s.config, '--format', 'json'], s.env)
  t.equal(again.code, 1, again.err)
  const json = JSON.parse(again.out) as { dryRun: boolean; kinds: Record<string, { imported: string[]; unchanged: string[]; conflicts: unknown[]; skipped: number }> }
  t.equal(json.dryRun, false)
  t.same(
    Object.entries(json.kinds).map(([k, v]) => [k, v.imported.length, v.unchanged.length, v.conflicts.length]),
    [
      ['documents', 0, 1, 0],
      ['intents', 0, 1, 1],
      // Client 1 renewed on the replica since: still its lease, so already there.
      ['leases', 0, 4, 1],
    ],
  )
  t.equal((await a.state.query('SELECT key FROM bp_dhcp_leases', [])).rowCount, 5, 'no second row for anyone')
})

t.test('hazard: kill -9 of the import half-way loses nothing; the next run completes it', async (t) => {
  const db = await createDatabase(t)
  const s = site(t, db)
  const N = 3000
  const files = await filesLeases(s)
  const batch: LeaseChange[] = []
  for (let i = 1; i <= N; i++) batch.push(await dora(files, i))
  await files.commit(batch)
  await files.close()
  const a = await replicaLeases(t, db, '10.1.0.1')
  const count = async () => Number((await a.state.query<{ n: string }>('SELECT count(*) AS n FROM bp_dhcp_leases', [])).rows[0]!.n)

  const run = start(['state', 'import', '--config', s.config], s.env)
  let seen = 0
  while (seen === 0 && run.p.exitCode === null) {
    await sleep(10)
    seen = await count()
  }
  run.p.kill('SIGKILL')
  t.comment(`seen ${seen} when killed`)
  const killed = await run.done
  t.equal(killed.signal, 'SIGKILL', `killed mid-run (${killed.err})`)
  // A statement the killed import had sent still finishes (and commits) in the database: wait for it.
  const busy = 'SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND state = $1 AND pid <> pg_backend_pid()'
  while (Number((await a.state.query<{ n: string }>(busy, ['active'])).rows[0]!.n) > 0) await sleep(20)
  const atKill = await count()
  t.ok(atKill > 0 && atKill < N, `killed half-way: ${atKill} of ${N} leases in`)
  const rows = (await a.state.query<{ key: string; addr: string; expires_at: string }>('SELECT key, addr, expires_at FROM bp_dhcp_leases', [])).rows
  const byKey = new Map(batch.map((c) => [c.lease.key, c.lease]))
  t.ok(
    rows.every((r) => ipToInt(byKey.get(r.key)!.ip) === Number(r.addr) && byKey.get(r.key)!.expiresAt === Number(r.expires_at)),
    'every row written before the kill is whole',
  )

  const r = await cli(['state', 'import', '--config', s.config, '--format', 'json'], s.env)
  t.equal(r.code, 0, r.err)
  const leases = (JSON.parse(r.out) as { kinds: { leases: { imported: string[]; unchanged: string[]; conflicts: unknown[] } } }).kinds.leases
  t.equal(leases.imported.length + leases.unchanged.length, N)
  t.equal(leases.unchanged.length, atKill, 'what the killed run wrote is already there')
  t.same(leases.conflicts, [])
  t.equal(await count(), N, 'every lease is in, once')
})
