/** Extracted SystemRescue ISO trees with small files: the current archiso layout and the legacy one. */
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

export interface Tree {
  readonly base: string
  readonly root: string
  write(rel: string, content: string): void
  remove(): void
}

function tree(files: Record<string, string>): Tree {
  const base = mkdtempSync(join(tmpdir(), 'bp-sysresccd-'))
  const root = join(base, 'iso')
  const write = (rel: string, content: string): void => {
    mkdirSync(dirname(join(root, rel)), { recursive: true })
    writeFileSync(join(root, rel), content)
  }
  for (const [rel, content] of Object.entries(files)) write(rel, content)
  return { base, root, write, remove: () => rmSync(base, { recursive: true, force: true }) }
}

const hex = (alg: string, s: string): string => createHash(alg).update(s).digest('hex')

export const SFS = 'squashfs root file system\n'
export const DAT = 'legacy root file system\n'

export function archisoTree(options: { ucode?: boolean; checksum?: 'good' | 'bad' | 'none' } = {}): Tree {
  const files: Record<string, string> = {
    'sysresccd/VERSION': '11.02\n',
    'sysresccd/boot/x86_64/vmlinuz': 'kernel\n',
    'sysresccd/boot/x86_64/sysresccd.img': 'initramfs\n',
    'sysresccd/x86_64/airootfs.sfs': SFS,
  }
  if (options.ucode !== false) {
    files['sysresccd/boot/intel_ucode.img'] = 'intel\n'
    files['sysresccd/boot/amd_ucode.img'] = 'amd\n'
  }
  const checksum = options.checksum ?? 'good'
  if (checksum !== 'none') files['sysresccd/x86_64/airootfs.sha512'] = `${hex('sha512', checksum === 'good' ? SFS : 'other')}  airootfs.sfs\n`
  return tree(files)
}

export function legacyTree(options: { kernels?: (32 | 64)[]; checksum?: 'good' | 'bad' } = {}): Tree {
  const files: Record<string, string> = {
    version: '5.3.2\n',
    'sysrcd.dat': DAT,
    'sysrcd.md5': `${hex('md5', options.checksum === 'bad' ? 'other' : DAT)}  sysrcd.dat\n`,
    'isolinux/initram.igz': 'initram\n',
  }
  for (const bits of options.kernels ?? [32, 64]) files[`isolinux/rescue${bits}`] = `rescue${bits}\n`
  return tree(files)
}
