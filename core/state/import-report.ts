/**
 * What `bootpolicy state import` did (or, with --dry-run, would do) for one kind of record: the
 * items copied, the ones the database already held as they are, the ones it holds differently
 * (conflicts: the database's are kept) and how many were not imported on purpose (expired).
 */
export interface ImportConflict {
  readonly item: string
  readonly why: string
}

export interface KindReport {
  /** `documents`, `intents`, `leases` or `plugin:<name>`. */
  readonly kind: string
  /** The file or directory read. */
  readonly source: string
  readonly imported: string[]
  readonly unchanged: string[]
  readonly conflicts: ImportConflict[]
  /** Expired (or released) records, left behind. */
  skipped: number
}

export function kindReport(kind: string, source: string): KindReport {
  return { kind, source, imported: [], unchanged: [], conflicts: [], skipped: 0 }
}

/** Same JSON text: what the importer calls "already there". */
export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}
