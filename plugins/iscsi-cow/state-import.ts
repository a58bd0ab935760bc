/**
 * This plugin's part of `bootpolicy state import`: the records of the files layout
 * (`users/<instance>/<user>.json`, `bases/<instance>.json` under the plugin's state directory) as
 * the documents state-store.ts reads on a shared backend (`iscsi-cow/users/<instance>/<user>`,
 * `iscsi-cow/bases/<instance>`). Read only, and nothing is created: the upgrade's source stays as
 * it was. Core writes the documents, never over existing ones.
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { ImportedDocument } from 'bootpolicy/plugin'
import { BASES, USERS, readJson } from './state-store.js'

async function names(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).sort()
}

export async function filesLayoutDocuments(stateDir: string): Promise<ImportedDocument[]> {
  const out: ImportedDocument[] = []
  for (const instance of await names(join(stateDir, 'users'))) {
    for (const f of await names(join(stateDir, 'users', instance))) {
      if (!f.endsWith('.json')) continue
      const value = await readJson(join(stateDir, 'users', instance, f))
      if (value !== undefined) out.push({ key: `${USERS}${instance}/${f.slice(0, -5)}`, value })
    }
  }
  for (const f of await names(join(stateDir, 'bases'))) {
    if (!f.endsWith('.json')) continue
    const value = await readJson(join(stateDir, 'bases', f))
    if (value !== undefined) out.push({ key: `${BASES}${f.slice(0, -5)}`, value })
  }
  return out
}
