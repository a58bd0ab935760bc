/**
 * A throwaway PostgreSQL 15 cluster for the state backend's tests (Debian package postgresql-15).
 * One cluster per test process: initdb runs once (as the `postgres` system user when the tests run
 * as root, since postgres refuses root), in a temp dir `bp-pg-<pid>-…` holding the data, the unix
 * socket and the log. It listens on that socket (trust, superuser) and on 127.0.0.1:<free port>
 * (scram-sha-256: the tests' role `bp_test` has a random password, so a wrong one is refused for
 * real). Each test gets its own database (`createDatabase(t)`), dropped on teardown.
 *
 * `stop('immediate')`/`start()` simulate an outage (pg_ctl stop -m immediate is a crash: no
 * checkpoint, the WAL replays on start). The cluster is stopped and its dir removed on process exit;
 * dirs of killed runs (owner pid dead) are swept, their postmaster killed, when the next one starts.
 * A missing binary fails the test naming the package.
 */
import { execFile, execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { E2eMissingToolError } from './e2e-require.js'
import { isAlive } from './process-alive.js'
import { trailSecret } from './secret-trail.js'
import { freePort } from './slapd.js'

const run = promisify(execFile)
const BIN = '/usr/lib/postgresql/15/bin'
const PREFIX = 'bp-pg-'

export interface PgCluster {
  readonly dir: string
  /** The directory holding the unix socket (a `host` for libpq / pg). */
  readonly socketDir: string
  readonly port: number
  /** The non-superuser role the tests connect as over TCP, and its password. */
  readonly user: string
  readonly password: string
  /** Superuser connection over the unix socket (trust). */
  admin(database?: string): Promise<pg.Client>
  stop(mode?: 'fast' | 'immediate'): Promise<void>
  start(): Promise<void>
  readonly running: boolean
}

export interface PgDatabase {
  readonly name: string
  readonly cluster: PgCluster
  /** `postgres://bp_test@127.0.0.1:PORT/NAME` — no password: pass it separately. */
  readonly url: string
  /** A file holding the password (mode 0600), for `state.passwordFile`. */
  readonly passwordFile: string
  readonly password: string
}

interface Teardownable {
  teardown(fn: () => unknown): void
}

let cluster: Promise<PgCluster> | undefined
let dbCounter = 0
let durable = false

/**
 * This process's cluster flushes its WAL to disk (fsync on, PostgreSQL's default), as a production
 * database does: for benchmarks against stores that fsync. Tests keep fsync off (faster; see boot()).
 * Call before the cluster starts (again later: nothing changes).
 */
export function useDurablePostgres(): void {
  if (cluster && !durable) throw new Error('useDurablePostgres: the cluster has already started with fsync off')
  durable = true
}

function bin(name: string): string {
  const file = join(BIN, name)
  if (!existsSync(file)) throw new E2eMissingToolError(name, 'postgresql-15', `${file} not found`)
  return file
}

/** uid/gid of the `postgres` user when we are root, else undefined (run as ourselves). */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'))
  if (!line) throw new E2eMissingToolError('postgres (system user)', 'postgresql-15', 'the postgres user is created by the package')
  const [, , uid, gid] = line.split(':')
  return { uid: Number(uid), gid: Number(gid) }
}

function sweepStale(): void {
  for (const name of readdirSync(tmpdir())) {
    const m = /^bp-pg-(\d+)-/.exec(name)
    if (!m || isAlive(Number(m[1]))) continue
    const dir = join(tmpdir(), name)
    try {
      const pid = Number(readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0])
      if (pid > 0 && isAlive(pid)) process.kill(pid, 'SIGKILL')
    } catch {
      // no postmaster.pid: never started or already stopped
    }
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The process's cluster, started on first use. */
export function startPostgres(): Promise<PgCluster> {
  cluster ??= boot().catch((err: unknown) => {
    cluster = undefined
    throw err
  })
  return cluster
}

async function boot(): Promise<PgCluster> {
  const initdb = bin('initdb')
  const pgCtl = bin('pg_ctl')
  bin('postgres')
  sweepStale()
  const owner = runAs()
  const dir = mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-`))
  const data = join(dir, 'data')
  const socketDir = join(dir, 'sock')
  mkdirSync(socketDir)
  if (owner) for (const d of [dir, socketDir]) chownSync(d, owner.uid, owner.gid)
  const superPw = randomBytes(16).toString('hex')
  const password = randomBytes(16).toString('hex')
  trailSecret(superPw)
  trailSecret(password)
  const pwFile = join(dir, 'superpw')
  writeFileSync(pwFile, `${superPw}\n`, { mode: 0o600 })
  if (owner) chownSync(pwFile, owner.uid, owner.gid)
  const opts = { ...(owner ?? {}), timeout: 60_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' } }
  try {
    await run(initdb, ['-D', data, '-U', 'bp_super', '--pwfile', pwFile, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-sync'], opts)
  } finally {
    rmSync(pwFile, { force: true })
  }
  const port = await freePort()
  // fsync off for tests: an immediate stop is a postgres crash, not an OS crash; the OS keeps written WAL.
  const serverOpts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${socketDir} -c fsync=${durable ? 'on' : 'off'} -c max_connections=200 -c shared_buffers=16MB`
  let running = false
  const start = async (): Promise<void> => {
    try {
      await run(pgCtl, ['start', '-w', '-t', '60', '-D', data, '-l', join(dir, 'postgres.log'), '-o', serverOpts], opts)
    } catch (err) {
      let log = ''
      try {
        log = readFileSync(join(dir, 'postgres.log'), 'utf8').slice(-1500)
      } catch {}
      throw new Error(`postgres did not start: ${(err as Error).message}\n${log}`)
    }
    running = true
  }
  const stop = async (mode: 'fast' | 'immediate' = 'fast'): Promise<void> => {
    if (!running) return
    running = false
    await run(pgCtl, ['stop', '-w', '-t', '60', '-D', data, '-m', mode], opts)
  }
  process.once('exit', () => {
    try {
      if (running) execFileSync(pgCtl, ['stop', '-w', '-t', '20', '-D', data, '-m', 'immediate'], { ...opts, stdio: 'ignore' })
    } catch {
      // the sweep of the next run kills what is left
    }
    rmSync(dir, { recursive: true, force: true })
  })
  await start()
  const admin = async (database = 'postgres'): Promise<pg.Client> => {
    const c = new pg.Client({ host: socketDir, port, user: 'bp_super', database })
    await c.connect()
    return c
  }
  const c = await admin()
  try {
    await c.query(`CREATE ROLE bp_test LOGIN PASSWORD '${password}'`)
  } finally {
    await c.end()
  }
  return {
    dir,
    socketDir,
    port,
    user: 'bp_test',
    password,
    admin,
    stop,
    start,
    get running() {
      return running
    },
  }
}

/** A fresh database owned by `bp_test`, dropped on t.teardown. */
export async function createDatabase(t: Teardownable): Promise<PgDatabase> {
  const cl = await startPostgres()
  const name = `bp_t${process.pid}_${++dbCounter}`
  const c = await cl.admin()
  try {
    await c.query(`CREATE DATABASE ${name} OWNER bp_test`)
  } finally {
    await c.end()
  }
  const passwordFile = join(cl.dir, `${name}.pw`)
  writeFileSync(passwordFile, `${cl.password}\n`, { mode: 0o600 })
  t.teardown(async () => {
    rmSync(passwordFile, { force: true })
    if (!cl.running) return
    const a = await cl.admin()
    try {
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    } finally {
      await a.end()
    }
  })
  return { name, cluster: cl, url: `postgres://bp_test@127.0.0.1:${cl.port}/${name}`, passwordFile, password: cl.password }
}

/** pg.Client options for the test role over TCP (pg ignores `password` beside a connectionString). */
export function clientConfig(db: PgDatabase): pg.ClientConfig {
  return { host: '127.0.0.1', port: db.cluster.port, user: db.cluster.user, password: db.password, database: db.name }
}
