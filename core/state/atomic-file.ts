/**
 * Crash-safe file replacement: write a temp file, fsync it, rename it over the target, fsync the
 * directory. After a crash the file holds either the old or the new content, never half of one.
 */
import { open, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'

export async function writeFileAtomic(file: string, body: string | Uint8Array, mode = 0o600): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(16).slice(2, 10)}`
  try {
    const fh = await open(tmp, 'w', mode)
    try {
      await fh.writeFile(body)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, file)
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined)
    throw err
  }
  // The rename itself is durable only once the directory entry is flushed.
  const dir = await open(dirname(file), 'r')
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
}
