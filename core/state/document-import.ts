/**
 * Copies documents into the shared backend without ever overwriting one: compare-and-set from
 * version 0 either creates the document or leaves the database's in place, so a run that was
 * killed half-way is completed by the next, and a second run imports nothing. Used for the files
 * backend's own documents (stateDir/state/) and for what plugins list from their files layouts.
 */
import { type KindReport, sameJson } from './import-report.js'
import { checkKey, type StateBackend } from './state-backend.js'

export interface DocumentSource {
  readonly key: string
  readonly value: unknown
}

/** `prefix`: a plugin's documents must live under its own name; any other key is refused, not written. */
export async function importDocuments(b: StateBackend, docs: readonly DocumentSource[], report: KindReport, dryRun: boolean, prefix?: string): Promise<KindReport> {
  for (const { key, value } of docs) {
    if (prefix !== undefined && !key.startsWith(prefix)) {
      report.conflicts.push({ item: key.slice(0, 200), why: `not under "${prefix}" (not imported)` })
      continue
    }
    try {
      checkKey(key)
    } catch {
      report.conflicts.push({ item: key.slice(0, 200), why: 'not a valid state key (not imported)' })
      continue
    }
    const existing = await b.get(key)
    if (existing === undefined && (dryRun || (await b.compareAndSet(key, 0, value)) !== undefined)) report.imported.push(key)
    else if (sameJson((existing ?? (await b.get(key)))?.value, value)) report.unchanged.push(key)
    else report.conflicts.push({ item: key, why: "differs in the database (kept the database's)" })
  }
  return report
}
