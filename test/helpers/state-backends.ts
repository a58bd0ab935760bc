/**
 * State backends for tests: a files backend in a temp dir, and PostgreSQL backends on a database
 * of the throwaway cluster (test/helpers/postgres.ts). Several `pgBackend(t, db)` on one database
 * are several replicas. Everything is closed and removed on t.teardown.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FileStateBackend } from '../../core/state/file-backend.js'
import type { MigrationRegistry } from '../../core/state/migrations.js'
import { type StateSettings, postgresSettings } from '../../core/state/open-state-backend.js'
import { PostgresStateBackend, type StateLog } from '../../core/state/postgres-backend.js'
import type { StateBackend } from '../../core/state/state-backend.js'
import { createDatabase, type PgDatabase } from './postgres.js'

export interface Teardownable {
  teardown(fn: () => unknown): void
}

/** `parallel` concurrent read-then-compare-and-set increments of document `key` (each retries until its set lands). */
export async function parallelIncrements(b: StateBackend, key: string, parallel: number): Promise<number[]> {
  const inc = async (): Promise<number> => {
    for (let tries = 1; ; tries++) {
      const cur = (await b.get<number>(key))!
      if ((await b.compareAndSet(key, cur.version, cur.value + 1)) !== undefined) return tries
    }
  }
  return Promise.all(Array.from({ length: parallel }, inc))
}

export async function filesBackend(t: Teardownable): Promise<FileStateBackend> {
  const dir = mkdtempSync(join(tmpdir(), 'bp-state-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return new FileStateBackend(join(dir, 'state'))
}

/** The `state` settings for a database (password through passwordFile). */
export function pgSettings(db: PgDatabase, extra: Partial<StateSettings> = {}): StateSettings {
  return { backend: 'postgres', url: db.url, passwordFile: db.passwordFile, ...extra }
}

/** A PostgreSQL backend (a replica) on `db`, or on a fresh database. */
export async function pgBackend(t: Teardownable, db?: PgDatabase, options: { settings?: Partial<StateSettings>; registry?: MigrationRegistry; log?: StateLog } = {}): Promise<PostgresStateBackend> {
  const d = db ?? (await createDatabase(t))
  const b = await PostgresStateBackend.open(postgresSettings(pgSettings(d, options.settings)), {
    ...(options.registry ? { registry: options.registry } : {}),
    ...(options.log ? { log: options.log } : {}),
  })
  t.teardown(() => b.close())
  return b
}
