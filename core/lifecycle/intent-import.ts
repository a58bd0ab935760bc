/**
 * `bootpolicy state import` for intents: the files backend's `stateDir/intents.json` merged into
 * the shared document `intents`, under the lock every replica's intent store takes (`lock:intents`)
 * so that no replica's change in between is lost. Per machine: an armed intent the database lacks
 * is added; the same intent already there is unchanged; another intent for the machine there is a
 * conflict (the database's is kept); an expired one is skipped. Ended intents (the `intent list`
 * history) are not imported.
 */
import type { KindReport } from '../state/import-report.js'
import { sameJson } from '../state/import-report.js'
import type { StateBackend } from '../state/state-backend.js'
import { JsonFileStateStore } from '../state/state-store.js'
import { type Doc, MAX_ACTIVE, STATE_KEY } from './file-intent-store.js'
import { machineKeyText } from './intent-types.js'

function validDoc(raw: unknown): Doc | undefined {
  const d = raw as Doc | undefined
  return d && Array.isArray(d.active) && Array.isArray(d.ended) ? d : undefined
}

export async function importIntents(b: StateBackend, stateDir: string, report: KindReport, options: { dryRun: boolean; now: number }): Promise<KindReport> {
  const file = validDoc(await new JsonFileStateStore(stateDir).read(STATE_KEY))
  if (!file) return report
  await b.withLock(`lock:${STATE_KEY}`, async () => {
    const got = await b.get<Doc>(STATE_KEY)
    const db = validDoc(got?.value) ?? { v: 1, active: [], ended: [] }
    const added = []
    for (const r of file.active) {
      const machine = machineKeyText(r.machine)
      if (r.expiresAt <= options.now) {
        report.skipped++
        continue
      }
      const there = db.active.find((x) => machineKeyText(x.machine) === machine)
      if (there && sameJson(there, r)) report.unchanged.push(machine)
      else if (there) report.conflicts.push({ item: machine, why: `the database holds another intent for this machine (${there.id}; kept the database's)` })
      else if (db.active.length + added.length >= MAX_ACTIVE) report.conflicts.push({ item: machine, why: `the database holds ${MAX_ACTIVE} intents already` })
      else {
        added.push(r)
        report.imported.push(machine)
      }
    }
    if (added.length === 0 || options.dryRun) return
    // Under the lock nobody else writes: a refused compare-and-set means the lock was lost.
    if ((await b.compareAndSet(STATE_KEY, got?.version ?? 0, { ...db, active: [...db.active, ...added] })) === undefined) {
      throw new Error('the intents document changed under the lock')
    }
  })
  return report
}
