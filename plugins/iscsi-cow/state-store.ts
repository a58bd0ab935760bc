/**
 * Persistent state, one small JSON file per user disk and per base image, so that the server and
 * the admin CLI never rewrite each other's records. Writes are crash-safe: a temp file in the same
 * directory, fsync, rename, fsync of the directory. Secrets are never stored.
 * With a shared state backend (PostgreSQL, several replicas) the same records are documents
 * `iscsi-cow/users/<instance>/<user>` and `iscsi-cow/bases/<instance>` instead, so that every
 * replica finds the disk another one provisioned.
 */
import { mkdirSync } from 'node:fs'
import { readFile, readdir, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { type StateBackend, writeFileAtomic } from 'bootpolicy/plugin'
import { errors } from './errors.js'
import type { BaseIdentity } from './base-guard.js'

export interface UserRecord {
  readonly instance: string
  readonly user: string
  readonly iqn: string
  readonly backend: 'qcow2' | 'dm-snapshot'
  readonly overlay: string
  /** What tgtd reads: the FUSE export (qcow2) or /dev/mapper/<name> (dm-snapshot). */
  readonly device: string
  readonly createdAt: string
  readonly updatedAt: string
  readonly lastLoginAt?: string
}

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`)
}

export async function readJson<T>(file: string): Promise<T | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw errors.create('BP_ERR_ISCSI_STATE', { file, details: (err as Error).message }, { cause: err })
  }
  try {
    return JSON.parse(text) as T
  } catch (err) {
    throw errors.create('BP_ERR_ISCSI_STATE', { file, details: 'not valid JSON' }, { cause: err })
  }
}

export const USERS = 'iscsi-cow/users/'
export const BASES = 'iscsi-cow/bases/'

export class StateStore {
  /** `shared`: the replicas' backend; the files under `dir` are then not used for records. */
  constructor(
    readonly dir: string,
    private readonly shared?: StateBackend,
  ) {
    mkdirSync(join(dir, 'users'), { recursive: true, mode: 0o700 })
    mkdirSync(join(dir, 'bases'), { recursive: true, mode: 0o700 })
  }

  private userFile(instance: string, user: string): string {
    return join(this.dir, 'users', instance, `${user}.json`)
  }

  private async readShared<T>(key: string): Promise<T | undefined> {
    try {
      return (await this.shared!.get<T>(key))?.value
    } catch (err) {
      throw errors.create('BP_ERR_ISCSI_STATE', { file: key, details: (err as Error).message }, { cause: err })
    }
  }

  getUser(instance: string, user: string): Promise<UserRecord | undefined> {
    if (this.shared) return this.readShared<UserRecord>(`${USERS}${instance}/${user}`)
    return readJson<UserRecord>(this.userFile(instance, user))
  }

  putUser(record: UserRecord): Promise<void> {
    if (this.shared) return this.shared.write(`${USERS}${record.instance}/${record.user}`, record)
    return writeJsonAtomic(this.userFile(record.instance, record.user), record)
  }

  async deleteUser(instance: string, user: string): Promise<void> {
    if (this.shared) return this.shared.delete(`${USERS}${instance}/${user}`)
    await unlink(this.userFile(instance, user)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err
    })
  }

  /** Every user record, sorted by instance then user. */
  async listUsers(): Promise<UserRecord[]> {
    const out: UserRecord[] = []
    if (this.shared) {
      // Keys sort as `<instance>/<user>`: the same order as the files layout.
      for (const key of await this.shared.keys(USERS)) {
        const r = await this.readShared<UserRecord>(key)
        if (r) out.push(r)
      }
      return out
    }
    const instances = (await readdir(join(this.dir, 'users')).catch(() => [] as string[])).sort()
    for (const instance of instances) {
      const files = (await readdir(join(this.dir, 'users', instance)).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).sort()
      for (const f of files) {
        const r = await readJson<UserRecord>(join(this.dir, 'users', instance, f))
        if (r) out.push(r)
      }
    }
    return out
  }

  getBase(instance: string): Promise<BaseIdentity | undefined> {
    if (this.shared) return this.readShared<BaseIdentity>(`${BASES}${instance}`)
    return readJson<BaseIdentity>(join(this.dir, 'bases', `${instance}.json`))
  }

  putBase(instance: string, identity: BaseIdentity): Promise<void> {
    if (this.shared) return this.shared.write(`${BASES}${instance}`, identity)
    return writeJsonAtomic(join(this.dir, 'bases', `${instance}.json`), identity)
  }

  async deleteBase(instance: string): Promise<void> {
    if (this.shared) return this.shared.delete(`${BASES}${instance}`).catch(() => undefined)
    await unlink(join(this.dir, 'bases', `${instance}.json`)).catch(() => undefined)
  }
}
