/**
 * `bootpolicy state migrate|status|import`: the operator's handle on the state backend.
 * migrate applies pending schema migrations (what `state.migrate: manual` waits for); status
 * prints the backend, its target (never the password) and each component's schema version; import
 * copies the files backend's documents, intents, DHCP leases and plugins' records into PostgreSQL
 * (state-import.ts), never overwriting what exists there, so it can be run again after a partial run.
 * Exit codes: 0 done; 1 status found pending migrations, or import found conflicts; 2 errors.
 */
import type { Config } from '../config/config-types.js'
import { BootpolicyError } from '../errors/bp-error.js'
import { FileStateBackend } from '../state/file-backend.js'
import { fileStateDir, postgresSettings, withCoreMigrations } from '../state/open-state-backend.js'
import { PostgresStateBackend } from '../state/postgres-backend.js'
import { importJson, renderImport, runStateImport } from './state-import.js'

export interface StateCommandOptions {
  readonly from?: string
  readonly format: 'text' | 'json'
  readonly dryRun?: boolean
}

function out(text: string): void {
  process.stdout.write(text)
}

export async function stateCommand(config: Config, sub: string | undefined, options: StateCommandOptions): Promise<number> {
  if (sub !== 'migrate' && sub !== 'status' && sub !== 'import') {
    throw new BootpolicyError('BP_ERR_CLI_USAGE', { details: 'bootpolicy state needs migrate, status or import' })
  }
  if (config.state.backend === 'files') {
    if (sub === 'status') {
      const keys = await new FileStateBackend(fileStateDir(config.stateDir)).keys('')
      if (options.format === 'json') out(`${JSON.stringify({ backend: 'files', dir: fileStateDir(config.stateDir), documents: keys.length })}\n`)
      else out(`backend: files (${fileStateDir(config.stateDir)}), ${keys.length} documents; no schema to migrate\n`)
      return 0
    }
    throw new BootpolicyError('BP_ERR_CLI_USAGE', { details: `bootpolicy state ${sub} needs state.backend "postgres" in the config` })
  }
  const cfg = postgresSettings(config.state)
  // status must not change the schema: open without migrating, then read the versions.
  // Every core component's migrations, as a server's start applies them: migrate brings them all,
  // status reports them all, import writes the lease tables.
  const registry = withCoreMigrations()
  const b = await PostgresStateBackend.open({ ...cfg, migrate: sub === 'status' ? 'manual' : 'auto' }, { registry }).catch(async (err: unknown) => {
    if (sub === 'status' && err instanceof BootpolicyError && err.code === 'BP_ERR_STATE_MIGRATION') return PostgresStateBackend.openUnmigrated(cfg, { registry })
    throw err
  })
  try {
    if (sub === 'status') return await status(b, options)
    if (sub === 'migrate') {
      // open() applied them; a second run reports nothing to do.
      const versions = await b.migrationStatus()
      if (options.format === 'json') out(`${JSON.stringify({ target: b.connection.display, components: versions })}\n`)
      else for (const s of versions) out(`${s.component}: version ${s.applied} (up to date)\n`)
      return 0
    }
    const dryRun = options.dryRun === true
    const reports = await runStateImport(b, config, { from: options.from ?? fileStateDir(config.stateDir), dryRun })
    out(options.format === 'json' ? importJson(reports, dryRun) : renderImport(reports, dryRun))
    return reports.some((r) => r.conflicts.length > 0) ? 1 : 0
  } finally {
    await b.close()
  }
}

async function status(b: PostgresStateBackend, options: StateCommandOptions): Promise<number> {
  const versions = await b.migrationStatus()
  const server = await b.serverVersion()
  const pending = versions.some((s) => s.pending.length > 0)
  if (options.format === 'json') {
    out(`${JSON.stringify({ backend: 'postgres', target: b.connection.display, server, components: versions })}\n`)
  } else {
    out(`backend: postgres ${b.connection.display} (PostgreSQL ${server})\n`)
    for (const s of versions) {
      const state =
        s.applied > s.known ? `newer than this bootpolicy (${s.known})` : s.pending.length ? `${s.pending.length} pending: ${s.pending.map((p) => `${p.version} ${p.name}`).join(', ')}` : 'up to date'
      out(`${s.component}: version ${s.applied} of ${s.known}, ${state}\n`)
    }
  }
  return pending ? 1 : 0
}
