/**
 * Opens the backend that `state.backend` names: files under stateDir (the default, one server) or
 * PostgreSQL (several replicas). The one place the server and the `bootpolicy state` CLI pick it.
 */
import { join } from 'node:path'
import { BootpolicyError } from '../errors/bp-error.js'
import { FileStateBackend } from './file-backend.js'
import { DHCP_MIGRATIONS } from '../dhcp/lease-migrations.js'
import { TIMELINE_MIGRATIONS } from '../timeline/timeline-migrations.js'
import { MigrationRegistry } from './migrations.js'
import { PostgresStateBackend, type StateLog } from './postgres-backend.js'
import type { PostgresStateConfig } from './postgres-options.js'
import type { StateBackend } from './state-backend.js'

/** The `state` config section as validated (defaults filled in; url required for postgres). */
export type StateSettings = { readonly backend: 'files' | 'postgres' } & Partial<PostgresStateConfig>

export const POSTGRES_DEFAULTS = {
  passwordEnv: 'PGPASSWORD',
  pool: { max: 10, idleTimeoutMs: 10_000 },
  connectTimeoutMs: 5000,
  statementTimeoutMs: 10_000,
  lockTimeoutMs: 30_000,
  migrate: 'auto',
} as const satisfies Omit<PostgresStateConfig, 'url'>

/** The PostgreSQL settings with defaults (for callers that did not go through the schema). */
export function postgresSettings(state: StateSettings): PostgresStateConfig {
  if (!state.url) throw new BootpolicyError('BP_ERR_STATE_CONFIG', { details: 'state.backend is postgres but state.url is not set' })
  return { ...POSTGRES_DEFAULTS, ...state, pool: { ...POSTGRES_DEFAULTS.pool, ...state.pool }, url: state.url }
}

/** The files backend's documents live here (beside, never inside, other components' files). */
export function fileStateDir(stateDir: string): string {
  return join(stateDir, 'state')
}

/**
 * The core components whose tables travel with the state schema (the backend adds its own
 * `state`): the DHCP lease tables, shared by replicas in full mode, and the shared timeline and
 * decision records (core/timeline/pg-event-store.ts). One list for the server and for
 * `bootpolicy state status|migrate|import`, so that a manual migrate brings every table a
 * replica's start checks.
 */
export function withCoreMigrations(registry = new MigrationRegistry()): MigrationRegistry {
  if (!registry.components().includes('dhcp')) registry.register('dhcp', DHCP_MIGRATIONS)
  if (!registry.components().includes('timeline')) registry.register('timeline', TIMELINE_MIGRATIONS)
  return registry
}

export async function openStateBackend(state: StateSettings, stateDir: string, options: { registry?: MigrationRegistry; log?: StateLog; env?: NodeJS.ProcessEnv } = {}): Promise<StateBackend> {
  if (state.backend === 'postgres') {
    return PostgresStateBackend.open(postgresSettings(state), { ...options, registry: withCoreMigrations(options.registry) })
  }
  return new FileStateBackend(fileStateDir(stateDir))
}
