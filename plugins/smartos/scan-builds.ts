/**
 * Find the SmartOS platform builds under a directory: `<root>/<build>/platform/i86pc/kernel/amd64/unix`
 * and `<root>/<build>/platform/i86pc/amd64/boot_archive`, build names like `20130808T195337Z`.
 * Newest first (the names sort chronologically). Incomplete builds are reported, not returned.
 */
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'

export const BUILD_NAME = /^\d{8}T\d{6}Z$/
export const KERNEL_PATH = 'platform/i86pc/kernel/amd64/unix'
export const ARCHIVE_PATH = 'platform/i86pc/amd64/boot_archive'

export interface ScanResult {
  /** Complete builds, newest first. */
  readonly builds: string[]
  /** One line per directory that looks like a build but cannot boot, saying why. */
  readonly problems: string[]
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile()
  } catch {
    return false
  }
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory()
  } catch {
    return false
  }
}

export async function scanBuilds(root: string): Promise<ScanResult> {
  const builds: string[] = []
  const problems: string[] = []
  const names = (await readdir(root)).filter((n) => BUILD_NAME.test(n))
  for (const name of names) {
    const dir = join(root, name)
    if (!(await isDir(dir))) continue
    const [kernel, archive] = await Promise.all([isFile(join(dir, KERNEL_PATH)), isFile(join(dir, ARCHIVE_PATH))])
    if (kernel && archive) {
      builds.push(name)
      continue
    }
    // The platform tarball unpacks to platform-<build>/; SmartOS only boots from platform/.
    if (!(await isDir(join(dir, 'platform'))) && (await isDir(join(dir, `platform-${name}`)))) {
      problems.push(`${name}: rename ${name}/platform-${name} to ${name}/platform`)
    } else {
      problems.push(`${name}: missing ${[!kernel && KERNEL_PATH, !archive && ARCHIVE_PATH].filter(Boolean).join(' and ')}`)
    }
  }
  builds.sort((a, b) => (a < b ? 1 : a > b ? -1 : 0))
  return { builds, problems }
}
