/**
 * Recognize an extracted SystemRescue ISO and check its files:
 * - `archiso` (SystemRescue 6 and later): sysresccd/boot/x86_64/{vmlinuz,sysresccd.img}, the
 *   microcode images in sysresccd/boot/ when present, sysresccd/x86_64/airootfs.sfs and its
 *   airootfs.sha512;
 * - `legacy` (SystemRescueCd up to 5.x): isolinux/rescue32 and/or rescue64, isolinux/initram.igz,
 *   sysrcd.dat and its sysrcd.md5.
 * Checksums are verified by streaming the file; a verified digest is remembered by size and mtime
 * in the state directory, so a restart does not hash a 1 GB root file system again.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export interface ArchisoLayout {
  readonly kind: 'archiso'
  readonly version?: string
  /** Paths relative to the root. */
  readonly kernel: string
  /** Microcode first, then the initramfs: the order the kernel needs. */
  readonly initrds: readonly string[]
  /** airootfs.sha512 exists: the client verifies the root file system (`checksum`). */
  readonly checksum: boolean
}

export interface LegacyLayout {
  readonly kind: 'legacy'
  readonly version?: string
  readonly kernels: Readonly<Partial<Record<32 | 64, string>>>
  readonly initrd: string
  readonly rootfs: string
}

export type Layout = ArchisoLayout | LegacyLayout

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile()
  } catch {
    return false
  }
}

async function version(file: string): Promise<string | undefined> {
  try {
    const text = (await readFile(file, 'utf8')).trim()
    return /^[A-Za-z0-9._-]{1,32}$/.test(text) ? text : undefined
  } catch {
    return undefined
  }
}

export async function detectLayout(root: string): Promise<Layout> {
  const has = (rel: string): Promise<boolean> => isFile(join(root, rel))
  const archiso = ['sysresccd/boot/x86_64/vmlinuz', 'sysresccd/boot/x86_64/sysresccd.img', 'sysresccd/x86_64/airootfs.sfs']
  const archisoFound = await Promise.all(archiso.map(has))
  if (archisoFound.every(Boolean)) {
    const ucode = []
    for (const rel of ['sysresccd/boot/intel_ucode.img', 'sysresccd/boot/amd_ucode.img']) if (await has(rel)) ucode.push(rel)
    return {
      kind: 'archiso',
      version: await version(join(root, 'sysresccd/VERSION')),
      kernel: archiso[0]!,
      initrds: [...ucode, archiso[1]!],
      checksum: await has('sysresccd/x86_64/airootfs.sha512'),
    }
  }
  const kernels: Partial<Record<32 | 64, string>> = {}
  if (await has('isolinux/rescue32')) kernels[32] = 'isolinux/rescue32'
  if (await has('isolinux/rescue64')) kernels[64] = 'isolinux/rescue64'
  const legacyFound = [await has('isolinux/initram.igz'), await has('sysrcd.dat')]
  if (legacyFound.every(Boolean) && (kernels[32] || kernels[64])) {
    return { kind: 'legacy', version: await version(join(root, 'version')), kernels, initrd: 'isolinux/initram.igz', rootfs: 'sysrcd.dat' }
  }
  const missing = archisoFound.some(Boolean)
    ? archiso.filter((_, i) => !archisoFound[i])
    : [...(legacyFound[0] ? [] : ['isolinux/initram.igz']), ...(legacyFound[1] ? [] : ['sysrcd.dat']), ...(kernels[32] || kernels[64] ? [] : ['isolinux/rescue32 or rescue64'])]
  throw new Error(`${root} is not an extracted SystemRescue ISO: missing ${missing.join(', ')}`)
}

/** The checksum file beside the root file system, as [file, checksum file, algorithm]. */
export function checksumOf(layout: Layout): [string, string, 'sha512' | 'md5'] {
  return layout.kind === 'archiso' ? ['sysresccd/x86_64/airootfs.sfs', 'sysresccd/x86_64/airootfs.sha512', 'sha512'] : [layout.rootfs, 'sysrcd.md5', 'md5']
}

interface Verified {
  size: number
  mtimeMs: number
  digest: string
}

/**
 * Verify the root file system against its checksum file. Returns 'verified', 'cached' (same size,
 * mtime and expected digest as a previous success) or 'no-checksum-file'; throws on a mismatch.
 */
export async function verifyRootfs(root: string, layout: Layout, stateDir: string): Promise<'verified' | 'cached' | 'no-checksum-file'> {
  const [rel, sumRel, algorithm] = checksumOf(layout)
  let sumText: string
  try {
    sumText = await readFile(join(root, sumRel), 'utf8')
  } catch {
    return 'no-checksum-file'
  }
  const hexLength = algorithm === 'sha512' ? 128 : 32
  const match = new RegExp(`^([0-9a-fA-F]{${hexLength}})(\\s|$)`).exec(sumText.trim())
  if (!match) throw new Error(`${sumRel} is not a ${algorithm} checksum file (expected "<${hexLength} hex digits>  <file>")`)
  const expected = match[1]!.toLowerCase()

  const file = join(root, rel)
  const st = await stat(file)
  const cacheFile = join(stateDir, 'verified.json')
  let cache: Record<string, Verified> = {}
  try {
    cache = JSON.parse(await readFile(cacheFile, 'utf8')) as Record<string, Verified>
  } catch {
    // first run, or an unreadable cache: hash again
  }
  const hit = cache[file]
  if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs && hit.digest === expected) return 'cached'

  const hash = createHash(algorithm)
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer)
  const actual = hash.digest('hex')
  if (actual !== expected) {
    throw new Error(`${rel}: ${algorithm} mismatch: ${sumRel} says ${expected}, the file hashes to ${actual}; copy it again from the ISO`)
  }
  cache[file] = { size: st.size, mtimeMs: st.mtimeMs, digest: expected }
  await mkdir(stateDir, { recursive: true })
  await writeFile(cacheFile, JSON.stringify(cache, null, 2))
  return 'verified'
}
