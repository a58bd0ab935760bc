/**
 * The base image must never change under its overlays: every overlay stores only the blocks its
 * user wrote, so a changed base silently corrupts every user's disk. The identity (size, mtime,
 * sha256) is recorded when the first overlay of an instance is made; before any overlay is attached
 * the size and mtime are compared (cheap), and any difference refuses the attach.
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { errors } from './errors.js'

export interface BaseIdentity {
  readonly path: string
  readonly size: number
  /** Nanoseconds since the epoch, as a decimal string (stat's bigint mtimeNs). */
  readonly mtimeNs: string
  readonly sha256: string
  readonly recordedAt: string
}

export async function identify(path: string): Promise<BaseIdentity> {
  const before = await statBase(path)
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer)
  const after = await statBase(path)
  if (after.size !== before.size || after.mtimeNs !== before.mtimeNs) {
    throw errors.create('BP_ERR_ISCSI_BASE_CHANGED', { image: path, path, details: 'it changed while it was being hashed' })
  }
  return { path, ...before, sha256: hash.digest('hex'), recordedAt: new Date().toISOString() }
}

async function statBase(path: string): Promise<{ size: number; mtimeNs: string }> {
  let st
  try {
    st = await stat(path, { bigint: true })
  } catch (err) {
    throw errors.create('BP_ERR_ISCSI_BASE_MISSING', { path, details: (err as Error).message }, { cause: err })
  }
  if (!st.isFile() && !st.isBlockDevice()) throw errors.create('BP_ERR_ISCSI_BASE_MISSING', { path, details: 'not a regular file or block device' })
  return { size: Number(st.size), mtimeNs: st.mtimeNs.toString() }
}

/** Throws BP_ERR_ISCSI_BASE_CHANGED when the base no longer matches its recorded identity. */
export async function checkBase(image: string, recorded: BaseIdentity, path: string): Promise<void> {
  const now = await statBase(path)
  const changes: string[] = []
  if (path !== recorded.path) changes.push(`path ${recorded.path} → ${path}`)
  if (now.size !== recorded.size) changes.push(`size ${recorded.size} → ${now.size} bytes`)
  if (now.mtimeNs !== recorded.mtimeNs) changes.push(`mtime ${nsToIso(recorded.mtimeNs)} → ${nsToIso(now.mtimeNs)}`)
  if (changes.length) {
    throw errors.create('BP_ERR_ISCSI_BASE_CHANGED', { image, path, details: `${changes.join(', ')} (sha256 at first overlay ${recorded.sha256.slice(0, 16)}…)` })
  }
}

function nsToIso(ns: string): string {
  return new Date(Number(BigInt(ns) / 1_000_000n)).toISOString()
}
