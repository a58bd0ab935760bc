/**
 * Resolve a client-requested file name to a regular file inside a root directory, or say why not.
 *
 * Shared by the TFTP service and the HTTP static-file route, so that both transports refuse the
 * same things for the same reasons. Two stages:
 *
 * 1. `checkRelativePath` is purely lexical and synchronous: it rejects bytes that never belong in a
 *    boot file name (NUL, control characters, backslashes) and anything that names a parent
 *    (`..` segments) or stays absolute after one leading `/` is stripped. Transports call it early to
 *    refuse before doing any work.
 * 2. `resolveSafePath` then asks the file system: `realpath` follows every symlink, and the result
 *    must still lie inside the root's own realpath. That is what stops a symlink planted in the root
 *    (or a symlinked directory) from leading out of it — the check the npm `tftp` package lacks.
 *
 * Input must already be decoded exactly once by the transport (HTTP: URL-decoded; TFTP: the raw
 * name). A literal `%2e%2e` that arrives here is a file name, not a parent reference: decoding a
 * second time here would reopen the double-decoding hole.
 */
import { realpath, stat } from 'node:fs/promises'
import type { Stats } from 'node:fs'
import path from 'node:path'

/** Why a name was refused. `invalid` and `traversal` are attacks or garbage; the rest are ordinary misses. */
export type SafePathReason = 'invalid' | 'traversal' | 'not-found' | 'not-a-file' | 'forbidden'

export type RelativePathResult = { ok: true; relative: string } | { ok: false; reason: 'invalid' | 'traversal' | 'not-a-file' }

export type SafePathResult = { ok: true; path: string; relative: string; stat: Stats } | { ok: false; reason: SafePathReason }

/** Longer names than this are refused outright (PATH_MAX on Linux). */
export const MAX_REQUESTED_PATH_LENGTH = 4096

// C0 controls and DEL: no boot loader asks for them and they make log lines lie.
// eslint-disable-next-line no-control-regex
const FORBIDDEN_CHARS = /[\u0000-\u001f\u007f\\]/

/**
 * Lexical check. Strips exactly one leading `/` (TFTP clients and HTTP paths both send one; this is
 * what tftpd-hpa does with `-s`), then refuses a name that is still absolute. Returns the cleaned
 * relative name (`.` and empty segments removed) that callers use as the canonical file name.
 */
export function checkRelativePath(requested: string): RelativePathResult {
  if (typeof requested !== 'string' || requested.length === 0 || requested.length > MAX_REQUESTED_PATH_LENGTH) {
    return { ok: false, reason: 'invalid' }
  }
  if (FORBIDDEN_CHARS.test(requested)) return { ok: false, reason: 'invalid' }
  const stripped = requested.startsWith('/') ? requested.slice(1) : requested
  if (stripped.startsWith('/')) return { ok: false, reason: 'traversal' }
  const segments: string[] = []
  for (const segment of stripped.split('/')) {
    if (segment === '..') return { ok: false, reason: 'traversal' }
    if (segment === '' || segment === '.') continue
    segments.push(segment)
  }
  // Nothing left means the root itself, which is a directory.
  if (segments.length === 0) return { ok: false, reason: 'not-a-file' }
  return { ok: true, relative: segments.join('/') }
}

/** True when `candidate` is `root` or below it. Both must be realpaths. */
export function isInside(root: string, candidate: string): boolean {
  if (candidate === root) return true
  const prefix = root.endsWith(path.sep) ? root : root + path.sep
  return candidate.startsWith(prefix)
}

/**
 * Full check: lexical, then realpath containment, then "is a regular file". Never throws for a
 * client's input; file-system errors become reasons. `path` in the result is the realpath, so the
 * caller opens exactly the file that was checked (see the TFTP service for the inode re-check that
 * closes the remaining swap-after-check window).
 */
export async function resolveSafePath(root: string, requested: string): Promise<SafePathResult> {
  const lexical = checkRelativePath(requested)
  if (!lexical.ok) return lexical
  let realRoot: string
  try {
    realRoot = await realpath(root)
  } catch {
    // A missing root is a configuration problem; to the client it is simply "not found".
    return { ok: false, reason: 'not-found' }
  }
  let real: string
  try {
    real = await realpath(path.join(realRoot, lexical.relative))
  } catch (err) {
    return { ok: false, reason: reasonFromError(err) }
  }
  if (!isInside(realRoot, real)) return { ok: false, reason: 'traversal' }
  let info: Stats
  try {
    info = await stat(real)
  } catch (err) {
    return { ok: false, reason: reasonFromError(err) }
  }
  // Directories, FIFOs, sockets and devices are refused: a FIFO would hang the reader forever.
  if (!info.isFile()) return { ok: false, reason: 'not-a-file' }
  return { ok: true, path: real, relative: lexical.relative, stat: info }
}

function reasonFromError(err: unknown): SafePathReason {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (code === 'EACCES' || code === 'EPERM') return 'forbidden'
  if (code === 'ENAMETOOLONG') return 'invalid'
  // ENOENT, ENOTDIR, ELOOP (a symlink cycle) and anything odd: the name does not lead to a file.
  return 'not-found'
}
