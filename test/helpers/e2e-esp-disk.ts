/**
 * The UEFI twin of e2e-bootsector.ts: a GPT disk whose EFI system partition (FAT16) holds
 * \EFI\BOOT\BOOTX64.EFI, so that UEFI iPXE's `sanboot` finds a loader on the user's iSCSI disk, and
 * that loader writes back to the disk. The loader is GRUB (grub-mkimage, modules built in; Debian's
 * grub-efi-amd64-bin), running \EFI\BOOT\grub.cfg:
 *
 *   1. print `E2E-ESP-HELLO`;
 *   2. read \EFI\BOOT\grubenv (load_env) — iSCSI READs through iPXE's SAN BlockIo;
 *   3. print `E2E-ESP-BOOTS=<n>` (0 on a fresh disk);
 *   4. write n+1 back into grubenv (save_env writes the file's own sectors through the firmware's
 *      BlockIo — iSCSI WRITEs) and print `E2E-ESP-WRITTEN`; then wait (stop the VM).
 *
 * GRUB prints `error: …` when a read or write fails. The image is built once per content key into
 * the e2e cache (like boot-payload.ts) with mtools/dosfstools/sgdisk, no loop mount; callers copy it.
 */
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { e2eCacheDir } from './boot-payload.js'
import { requireCommand, requireFile } from './e2e-require.js'

export const ESP_HELLO = 'E2E-ESP-HELLO'
export const ESP_BOOTS = /E2E-ESP-BOOTS=(\d)/
export const ESP_WRITTEN = 'E2E-ESP-WRITTEN'
/** GRUB's own failure lines (a read or write that did not work). */
export const ESP_FAIL = /error: [^\n]*/
/** The ESP starts at LBA 2048: mtools addresses it as `<image>@@1M`. */
export const ESP_OFFSET = '1M'

const LAYOUT_VERSION = 1
const SIZE_MIB = 16 // ≥ 8 MiB like the BIOS disk; FAT16 needs > 4 MiB
const MODULES = ['fat', 'part_gpt', 'normal', 'loadenv', 'echo', 'test', 'sleep']
const GRUB_CFG = `load_env -f $prefix/grubenv
echo ${ESP_HELLO}
if [ -z "$boots" ]; then boots=0; fi
echo "E2E-ESP-BOOTS=$boots"
if [ "$boots" = 0 ]; then next=1; elif [ "$boots" = 1 ]; then next=2; elif [ "$boots" = 2 ]; then next=3; else next=9; fi
boots=$next
save_env -f $prefix/grubenv boots
echo ${ESP_WRITTEN}
sleep 3600
`
// Fixed GUIDs and volume id: the same inputs give the same disk.
const DISK_GUID = 'e2e00000-0000-4000-8000-00000000e5b0'
const PART_GUID = 'e2e00000-0000-4000-8000-00000000e5b1'

let built: string | undefined

function tools(): { grubMkimage: string; grubEditenv: string; mkfs: string; mmd: string; mcopy: string; sgdisk: string } {
  requireFile('/usr/lib/grub/x86_64-efi/fat.mod', 'grub-efi-amd64-bin')
  return {
    grubMkimage: requireCommand('grub-mkimage', 'grub-common'),
    grubEditenv: requireCommand('grub-editenv', 'grub-common'),
    mkfs: requireCommand('mkfs.vfat', 'dosfstools'),
    mmd: requireCommand('mmd', 'mtools'),
    mcopy: requireCommand('mcopy', 'mtools'),
    sgdisk: requireCommand('sgdisk', 'gdisk'),
  }
}

const MTOOLS_ENV = { ...process.env, MTOOLS_SKIP_CHECK: '1' }

/** The cached template image (built on the first call of the run, or found from an earlier run). */
export function buildEspCounterDisk(): string {
  if (built && existsSync(built)) return built
  const tool = tools()
  const grubVersion = execFileSync(tool.grubMkimage, ['--version'], { encoding: 'utf8' }).trim()
  const key = createHash('sha256').update(JSON.stringify({ LAYOUT_VERSION, SIZE_MIB, MODULES, GRUB_CFG, grubVersion })).digest('hex').slice(0, 16)
  const cache = e2eCacheDir()
  mkdirSync(cache, { recursive: true })
  const file = join(cache, `esp-counter-${key}.img`)
  if (existsSync(file)) return (built = file)
  const tmp = join(cache, `.tmp-esp-${process.pid}-${randomBytes(4).toString('hex')}`)
  mkdirSync(tmp)
  try {
    const run = (cmd: string, args: string[]): void => {
      execFileSync(cmd, args, { cwd: tmp, env: MTOOLS_ENV, stdio: ['ignore', 'ignore', 'pipe'] })
    }
    const disk = join(tmp, 'disk.img')
    writeFileSync(join(tmp, 'grub.cfg'), GRUB_CFG)
    run(tool.grubMkimage, ['-O', 'x86_64-efi', '-p', '/EFI/BOOT', '-o', join(tmp, 'BOOTX64.EFI'), ...MODULES])
    run(tool.grubEditenv, [join(tmp, 'grubenv'), 'create'])
    writeFileSync(disk, '')
    truncateSync(disk, SIZE_MIB * 1024 * 1024)
    run(tool.sgdisk, ['-o', '-U', DISK_GUID, '-n', '1:2048:0', '-t', '1:ef00', '-u', `1:${PART_GUID}`, '-c', '1:ESP', disk])
    // Partition 1 spans LBA 2048 … (last usable LBA); mkfs.vfat counts 1 KiB blocks.
    const sectors = SIZE_MIB * 2048 - 2048 - 34
    run(tool.mkfs, ['-F', '16', '-n', 'E2EESP', '-i', '0e2e0e2e', '--offset', '2048', disk, String(Math.floor(sectors / 2))])
    const img = `${disk}@@${ESP_OFFSET}`
    run(tool.mmd, ['-i', img, '::/EFI', '::/EFI/BOOT'])
    run(tool.mcopy, ['-i', img, join(tmp, 'BOOTX64.EFI'), join(tmp, 'grub.cfg'), join(tmp, 'grubenv'), '::/EFI/BOOT/'])
    try {
      renameSync(disk, file)
    } catch (err) {
      if (!existsSync(file)) throw err // another process built the same key first
    }
    return (built = file)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

/** A fresh copy of the template at `path` (its grubenv has no `boots`: the counter starts at 0). */
export function writeEspCounterDisk(path: string): void {
  copyFileSync(buildEspCounterDisk(), path)
}

/**
 * The `boots` value in grubenv on a raw disk image (or a raw view such as iscsi-cow's FUSE export),
 * read with mtools; `prefix` runs mtype elsewhere (e.g. `nsenter --mount=…` into tgtd's mount
 * namespace, where the export is mounted). undefined: no `boots` line yet.
 */
export function readEspBoots(image: string, prefix: readonly string[] = []): number | undefined {
  const mtype = requireCommand('mtype', 'mtools')
  const argv = [...prefix, mtype, '-i', `${image}@@${ESP_OFFSET}`, '::/EFI/BOOT/grubenv']
  const text = execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: MTOOLS_ENV })
  const m = /^boots=(\d+)$/m.exec(text)
  return m ? Number(m[1]) : undefined
}
