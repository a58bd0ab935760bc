/**
 * The suite's state backend: `BOOTPOLICY_TEST_STATE=postgres` runs every test that builds its config
 * through the shared helpers (tempPolicies().config, the e2e and site configs) on the PostgreSQL
 * backend instead of files, so the existing suite proves both (docs/reference/state.md).
 *
 * One database per stateDir: where files mode shares `stateDir` between the configs of one temp dir,
 * this mode shares that stateDir's database, created on first use and dropped when the temp dir is
 * removed. The process's throwaway cluster (test/helpers/postgres.ts) starts when this module loads,
 * so config building stays synchronous; a missing PostgreSQL fails the importing test naming
 * `postgresql-15`. A test that sets its own `state` keeps it. Unset or `files`: nothing changes.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve, sep } from 'node:path'
import { startPostgres } from './postgres.js'

const mode = process.env.BOOTPOLICY_TEST_STATE ?? 'files'
if (mode !== 'files' && mode !== 'postgres') throw new Error(`BOOTPOLICY_TEST_STATE must be files or postgres, not ${JSON.stringify(mode)}`)

/** The backend the suite runs on. */
export const SUITE_STATE: 'files' | 'postgres' = mode

const cluster = mode === 'postgres' ? await startPostgres() : undefined
const PSQL = '/usr/lib/postgresql/15/bin/psql'

export interface SuiteStateSection {
  readonly backend: 'postgres'
  readonly url: string
  readonly passwordFile: string
}

const databases = new Map<string, { name: string; section: SuiteStateSection }>()
let counter = 0

/** Superuser SQL over the cluster's socket, synchronously (config building is synchronous; never DROP DATABASE here, see dropSuiteState). */
function admin(sql: string): void {
  if (!cluster) return
  execFileSync(PSQL, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', cluster.socketDir, '-p', String(cluster.port), '-U', 'bp_super', '-d', 'postgres', '-c', sql], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' },
    timeout: 60_000,
  })
}

/**
 * The `state` section for a stateDir in postgres mode (its database made on first use), else
 * undefined. `socket`: through the cluster's unix socket, for a server in a network namespace
 * (where 127.0.0.1 is not this host's loopback).
 */
export function suiteState(stateDir: string, options: { socket?: boolean } = {}): SuiteStateSection | undefined {
  if (!cluster) return undefined
  const key = resolve(stateDir)
  let db = databases.get(key)
  if (!db) {
    const name = `bp_s${process.pid}_${++counter}`
    admin(`CREATE DATABASE ${name} OWNER bp_test`)
    const passwordFile = join(cluster.dir, `${name}.pw`)
    writeFileSync(passwordFile, `${cluster.password}\n`, { mode: 0o600 })
    db = { name, section: { backend: 'postgres', url: `postgres://bp_test@127.0.0.1:${cluster.port}/${name}`, passwordFile } }
    databases.set(key, db)
  }
  if (!options.socket) return db.section
  return { ...db.section, url: `postgres://bp_test@localhost:${cluster.port}/${db.name}?host=${encodeURIComponent(cluster.socketDir)}` }
}

/**
 * Drop the databases of every stateDir under `dir` (called where the temp dir is removed). Async on
 * purpose: PostgreSQL 15's DROP DATABASE waits until every backend has absorbed a signal barrier,
 * and a backend still authenticating a client of this process (a pool reconnecting after an
 * outage test restarted the cluster) absorbs it only once that client answers. A synchronous psql
 * here blocked the event loop that client needs: both waited until authentication_timeout (60 s).
 */
export async function dropSuiteState(dir: string): Promise<void> {
  if (!cluster?.running) return
  const root = resolve(dir)
  const names: string[] = []
  for (const [key, db] of databases) {
    if (key !== root && !key.startsWith(root + sep)) continue
    databases.delete(key)
    rmSync(db.section.passwordFile, { force: true })
    names.push(db.name)
  }
  if (names.length === 0) return
  const c = await cluster.admin()
  try {
    for (const name of names) await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  } finally {
    await c.end()
  }
}

/** `config` with the suite's `state` section for its stateDir, unless it names a state itself. */
export function withSuiteState<T extends Record<string, unknown>>(config: T, baseDir: string): T {
  if (!cluster || config.state !== undefined) return config
  const stateDir = typeof config.stateDir === 'string' ? resolve(baseDir, config.stateDir) : resolve(baseDir, 'var')
  return { ...config, state: suiteState(stateDir) }
}

/**
 * The stored text of a core state document, as the config's backend keeps it: the file
 * `stateDir/<file>` with files, the row's body in the suite database with postgres (for tests that
 * check what is at rest, such as "the stored intents hold no token").
 */
export async function storedDocument(
  config: { readonly stateDir: string; readonly state: { readonly backend: string; readonly url?: string } },
  file: string,
  key: string,
): Promise<string | undefined> {
  if (config.state.backend !== 'postgres') {
    try {
      return readFileSync(join(config.stateDir, file), 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  }
  if (!cluster || !config.state.url) throw new Error('storedDocument: a postgres state outside the suite cluster')
  const c = await cluster.admin(new URL(config.state.url).pathname.slice(1))
  try {
    const { rows } = await c.query<{ body: string }>('SELECT body FROM bp_state_documents WHERE key = $1', [key])
    return rows[0]?.body
  } finally {
    await c.end()
  }
}
