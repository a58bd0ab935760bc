/**
 * The last good compiled version of each policy, kept under `stateDir/policies/` so that a
 * restart while a policy is broken still serves what served before (PolicySet asks for it when
 * a policy has no good version in memory). One file per compiled bundle, named by its sha256
 * (`<hash>.json`), and one index (`last-good.json`: policy name → hash and since when it went
 * live). Both are written with writeFileAtomic, blob before index: a crash at any point leaves
 * the previous index, whose blobs are still there. A blob whose content does not hash to its name
 * is ignored, so a damaged file is never served.
 * With a shared backend (replicas on PostgreSQL) the same blobs and index are documents
 * (`policies/blob/<hash>`, `policies/last-good`), saved under the backend's lock `policies/last-good`
 * so that replicas do not lose each other's entries: a replica starting while its policy file is
 * broken serves what another replica stored. The hash check applies the same.
 */
import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../state/atomic-file.js'
import type { StateBackend } from '../state/state-backend.js'
import type { CompiledPolicy } from './compile-policy.js'

export interface LastGoodEntry {
  readonly hash: string
  /** ISO time this revision first went live. */
  readonly since: string
}

export type LastGoodIndex = Readonly<Record<string, LastGoodEntry>>

interface StoredPolicy {
  readonly name: string
  readonly hash: string
  readonly code: string
  readonly map: string
  readonly entry: string
  readonly inputs?: readonly string[]
}

const HASH = /^[0-9a-f]{64}$/
const INDEX = 'last-good.json'
const SHARED_INDEX = 'policies/last-good'
const SHARED_BLOB = 'policies/blob/'

export class LastGoodStore {
  private index: LastGoodIndex | undefined

  constructor(
    readonly dir: string,
    private readonly shared?: StateBackend,
  ) {}

  /** The stored index; an unreadable or malformed one counts as empty (nothing to fall back to). */
  async read(): Promise<LastGoodIndex> {
    // Shared: another replica may have saved since; read it each time (only loads and saves ask).
    if (this.index && !this.shared) return this.index
    let raw: unknown
    try {
      raw = this.shared ? (await this.shared.get(SHARED_INDEX))?.value : JSON.parse(await readFile(join(this.dir, INDEX), 'utf8'))
    } catch {
      raw = undefined
    }
    const index: Record<string, LastGoodEntry> = {}
    const policies = (raw as { policies?: unknown } | undefined)?.policies
    if (policies && typeof policies === 'object') {
      for (const [name, e] of Object.entries(policies as Record<string, unknown>)) {
        const { hash, since } = (e ?? {}) as { hash?: unknown; since?: unknown }
        if (typeof hash === 'string' && HASH.test(hash) && typeof since === 'string') index[name] = { hash, since }
      }
    }
    this.index = index
    return index
  }

  /** The stored bundle of `name` as a CompiledPolicy for `file`, or undefined (none, or damaged). */
  async load(name: string, file: string): Promise<(CompiledPolicy & { since: string }) | undefined> {
    const entry = (await this.read())[name]
    if (!entry) return undefined
    let stored: StoredPolicy
    try {
      stored = this.shared
        ? ((await this.shared.get<StoredPolicy>(`${SHARED_BLOB}${entry.hash}`))?.value as StoredPolicy)
        : (JSON.parse(await readFile(join(this.dir, `${entry.hash}.json`), 'utf8')) as StoredPolicy)
    } catch {
      return undefined
    }
    if (typeof stored?.code !== 'string' || typeof stored.map !== 'string' || typeof stored.entry !== 'string') return undefined
    // The name is the content's hash: a blob that does not match it is damaged, not a policy.
    if (stored.hash !== entry.hash || sha256(stored.code) !== entry.hash || stored.name !== name) return undefined
    return { name, file, hash: entry.hash, code: stored.code, map: stored.map, entry: stored.entry, inputs: stored.inputs, since: entry.since }
  }

  /**
   * Record the chain now serving: `good` are the policies whose current file content went live,
   * `kept` the names still served from an older revision (their entries stay as they are).
   * Policies in neither are gone from the directory and leave the index.
   */
  async save(good: readonly CompiledPolicy[], kept: readonly string[], now = new Date()): Promise<void> {
    if (this.shared) return this.shared.withLock(SHARED_INDEX, () => this.saveShared(good, now))
    const old = await this.read()
    const next: Record<string, LastGoodEntry> = {}
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    for (const p of good) {
      const prev = old[p.name]
      if (prev?.hash === p.hash) {
        next[p.name] = prev
        continue
      }
      const blob: StoredPolicy = { name: p.name, hash: p.hash, code: p.code, map: p.map, entry: p.entry, inputs: p.inputs }
      await writeFileAtomic(join(this.dir, `${p.hash}.json`), JSON.stringify(blob))
      next[p.name] = { hash: p.hash, since: now.toISOString() }
    }
    for (const name of kept) if (old[name]) next[name] = old[name]
    if (!sameIndex(old, next)) await writeFileAtomic(join(this.dir, INDEX), JSON.stringify({ version: 1, policies: next }))
    this.index = next
    await this.prune(next)
  }

  private async saveShared(good: readonly CompiledPolicy[], now: Date): Promise<void> {
    const state = this.shared!
    const old = await this.read()
    // Entries of policies this replica does not have (or keeps serving from an older revision) stay.
    const next: Record<string, LastGoodEntry> = { ...old }
    for (const p of good) {
      if (old[p.name]?.hash === p.hash) continue
      const blob: StoredPolicy = { name: p.name, hash: p.hash, code: p.code, map: p.map, entry: p.entry, inputs: p.inputs }
      await state.write(`${SHARED_BLOB}${p.hash}`, blob)
      next[p.name] = { hash: p.hash, since: now.toISOString() }
    }
    if (!sameIndex(old, next)) await state.write(SHARED_INDEX, { version: 1, policies: next })
    this.index = next
    const live = new Set(Object.values(next).map((e) => `${SHARED_BLOB}${e.hash}`))
    for (const key of await state.keys(SHARED_BLOB)) if (!live.has(key)) await state.delete(key)
  }

  /** Remove blobs no index entry names (and temp files a crash left behind). */
  private async prune(index: LastGoodIndex): Promise<void> {
    const live = new Set(Object.values(index).map((e) => `${e.hash}.json`))
    for (const f of await readdir(this.dir)) {
      if (f === INDEX || live.has(f)) continue
      if (/^[0-9a-f]{64}\.json$/.test(f) || f.includes('.tmp-')) await rm(join(this.dir, f), { force: true })
    }
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

function sameIndex(a: LastGoodIndex, b: LastGoodIndex): boolean {
  const ka = Object.keys(a)
  if (ka.length !== Object.keys(b).length) return false
  return ka.every((k) => b[k]?.hash === a[k]!.hash && b[k]?.since === a[k]!.since)
}
