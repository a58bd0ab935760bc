/**
 * A plugin's part of `bootpolicy state import` (the upgrade from the files backend to PostgreSQL):
 * a plugin that keeps records in a files layout of its own (under its state directory, not in
 * `stateDir/state/`) lists them as the documents it reads through `api.state` on PostgreSQL. Core
 * copies them as it copies its own documents: never over an existing one, a differing one is a
 * conflict, so the import can run again. The hook only reads; core does every write.
 */
import type { Logger } from 'pino'

export interface StateImportContext {
  /** This plugin's state directory (`<stateDir>/plugins/<plugin name>`), the one its setup gets. */
  readonly stateDir: string
  /** The config file's folder. */
  readonly baseDir: string
  /** Level warn, to stderr. */
  readonly logger: Logger
}

/** One record as the plugin keeps it on PostgreSQL. `key` must start with `<plugin name>/`. */
export interface ImportedDocument {
  readonly key: string
  readonly value: unknown
}

/** Reads the plugin's files layout; must not write anything. */
export type StateImportHook = (context: StateImportContext) => Promise<readonly ImportedDocument[]>
