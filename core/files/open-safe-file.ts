/**
 * Open a client-requested file inside a root exactly once, so that what is served is what was checked.
 *
 * `resolveSafePath` proves a name leads to a regular file inside the root, but opening that path a
 * second time (by name) lets an attacker who can write in the root swap the file for a symlink to a
 * secret in between. Here the checked realpath is opened with O_NOFOLLOW (a symlink swapped in at
 * the last component fails with ELOOP), and the opened descriptor is fstat'ed and compared with
 * the checked inode (a file renamed over it, or a directory component swapped for a symlink, has
 * another dev/ino). A directory component swapped for a symlink between realpath and open would
 * pass both (open follows it, and the earlier stat followed it too), so on Linux the descriptor's
 * own path (/proc/self/fd/N) must also lie inside the root. Only then does the caller get the
 * handle, and it reads from that handle only.
 * Both transports (HTTP /files and TFTP) use this one function.
 */
import { open, readlink, realpath, type FileHandle } from 'node:fs/promises'
import { constants, type Stats } from 'node:fs'
import { isInside, resolveSafePath, type SafePathReason } from './resolve-safe-path.js'

/** `changed`: the file was swapped between the check and the open (an attack, or a deploy in progress). */
export type OpenSafeReason = SafePathReason | 'changed'

export type OpenSafeResult = { ok: true; handle: FileHandle; stat: Stats; path: string; relative: string } | { ok: false; reason: OpenSafeReason; cause?: unknown }

// O_NONBLOCK: should a FIFO be swapped in after the check, open() must not hang waiting for a writer
// (the fstat below then refuses it as not a regular file). Regular-file reads ignore the flag.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK

/**
 * Resolve, open once, verify. The caller owns `handle` on success and must close it on every path;
 * on failure nothing is left open. Never throws for a client's input.
 */
export async function openSafeFile(root: string, requested: string): Promise<OpenSafeResult> {
  const resolved = await resolveSafePath(root, requested)
  if (!resolved.ok) return resolved
  let handle: FileHandle
  try {
    handle = await open(resolved.path, OPEN_FLAGS)
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return { ok: false, reason: 'not-found' }
    // ELOOP: the last component is a symlink now; EACCES: permissions changed; both refuse.
    return { ok: false, reason: code === 'EACCES' || code === 'EPERM' ? 'forbidden' : 'changed', cause }
  }
  try {
    const opened = await handle.stat()
    if (!opened.isFile() || opened.ino !== resolved.stat.ino || opened.dev !== resolved.stat.dev) {
      await handle.close().catch(() => undefined)
      return { ok: false, reason: 'changed' }
    }
    if (!(await descriptorInside(root, handle))) {
      await handle.close().catch(() => undefined)
      return { ok: false, reason: 'changed' }
    }
    return { ok: true, handle, stat: opened, path: resolved.path, relative: resolved.relative }
  } catch (cause) {
    await handle.close().catch(() => undefined)
    return { ok: false, reason: 'changed', cause }
  }
}

/** Where the kernel says the descriptor points, checked against the root; true where /proc is absent. */
async function descriptorInside(root: string, handle: FileHandle): Promise<boolean> {
  let actual: string
  try {
    actual = await readlink(`/proc/self/fd/${handle.fd}`)
  } catch {
    return process.platform !== 'linux'
  }
  try {
    return isInside(await realpath(root), actual)
  } catch {
    return false
  }
}
