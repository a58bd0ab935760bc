/**
 * `bootpolicy state import`: the upgrade from the files backend to PostgreSQL, one kind of record
 * after another, each never overwriting what the database holds (conflicts are listed and kept):
 * the files backend's documents (stateDir/state/, or --from DIR), intents (stateDir/intents.json),
 * the DHCP lease file (live leases and declines), and what each configured plugin lists from its
 * own files layout (its `importState` hook; core knows no plugin by name). `--dry-run` reads and
 * compares only. Every step is idempotent, so a killed run is completed by running it again.
 */
import { join, resolve } from 'node:path'
import pino from 'pino'
import type { Config } from '../config/config-types.js'
import { importLeases } from '../dhcp/lease-import.js'
import { importIntents } from '../lifecycle/intent-import.js'
import { createLogger } from '../log/logger.js'
import { importDocuments } from '../state/document-import.js'
import { FileStateBackend } from '../state/file-backend.js'
import { type KindReport, kindReport } from '../state/import-report.js'
import type { PostgresStateBackend } from '../state/postgres-backend.js'
import { registryOf } from './plugin-commands.js'

export interface ImportOptions {
  /** The files backend's documents directory (default stateDir/state/). */
  readonly from: string
  readonly dryRun: boolean
  readonly now?: number
}

export async function runStateImport(b: PostgresStateBackend, config: Config, options: ImportOptions): Promise<KindReport[]> {
  const now = options.now ?? Date.now()
  const { dryRun } = options
  const reports: KindReport[] = []

  const files = new FileStateBackend(options.from)
  const docs = []
  for (const key of await files.keys('')) docs.push({ key, value: await files.read(key) })
  reports.push(await importDocuments(b, docs, kindReport('documents', options.from), dryRun))

  reports.push(await importIntents(b, config.stateDir, kindReport('intents', join(config.stateDir, 'intents.json')), { dryRun, now }))

  // The DHCP service's default name (core/dhcp/config-schema.ts) when the config names none.
  const leaseFile = resolve(config.stateDir, config.dhcp.stateFile ?? 'dhcp-leases.json')
  reports.push(await importLeases(b, leaseFile, kindReport('leases', leaseFile), { dryRun, now }))

  const registry = await registryOf(config)
  const logger = createLogger('warn', pino.destination({ dest: 2, sync: true }))
  for (const { plugin, run } of registry.stateImports) {
    const stateDir = join(config.stateDir, 'plugins', plugin)
    const report = kindReport(`plugin:${plugin}`, stateDir)
    const listed = await run({ stateDir, baseDir: config.baseDir, logger: logger.child({ plugin }) })
    reports.push(await importDocuments(b, listed, report, dryRun, `${plugin}/`))
  }
  return reports
}

/** One line per kind, then one per conflict. */
export function renderImport(reports: readonly KindReport[], dryRun: boolean): string {
  let text = dryRun ? 'dry run: nothing was written\n' : ''
  for (const r of reports) {
    const skipped = r.skipped ? `, ${r.skipped} expired skipped` : ''
    text += `${r.kind}: ${r.imported.length} ${dryRun ? 'to import' : 'imported'}, ${r.unchanged.length} already there, ${r.conflicts.length} conflicts${skipped} (from ${r.source})\n`
  }
  for (const r of reports) for (const c of r.conflicts) text += `conflict: ${r.kind} ${c.item}: ${c.why}\n`
  return text
}

export function importJson(reports: readonly KindReport[], dryRun: boolean): string {
  return `${JSON.stringify({ dryRun, kinds: Object.fromEntries(reports.map(({ kind, ...rest }) => [kind, rest])) })}\n`
}
