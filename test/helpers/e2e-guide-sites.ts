/**
 * The sites of the migration-guide scenarios, set up once here for the e2e tests and for
 * bench/e2e-boot-times.ts: the guide's config and policies (startGuideBootpolicy) with the
 * substitutions that map the guide's site onto a TestNet, plus the files the guide tells the admin
 * to copy (Debian's lpxelinux and modules; the payload under the guide's kernel names).
 */
import { copyFileSync, mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { BootPayload } from './boot-payload.js'
import { REPO_ROOT } from './e2e-bootpolicy.js'
import { type GuideServer, startGuideBootpolicy } from './e2e-guide.js'
import type { TestNet } from './e2e-net.js'
import { requireFile } from './e2e-require.js'
import { BOOT_FAILURES, type Firmware } from './qemu.js'

const BIOS_MODULES = '/usr/lib/syslinux/modules/bios'
const lpxelinux = (): string => requireFile('/usr/lib/PXELINUX/lpxelinux.0', 'pxelinux')
const c32 = (name: string): string => requireFile(`${BIOS_MODULES}/${name}`, 'syslinux-common')
const prefixOf = (net: TestNet): string => net.serverIp.replace(/\.\d+$/, '.')

/** pxelinux's own dead ends (it would otherwise wait for a key or a reset). */
export const PXELINUX_FAILURES = new RegExp(`${BOOT_FAILURES.source}|Failed to load \\S+|Boot failed: press a key|Could not find kernel image`)

/** Seed 003: docs/guides/migrate-dnsmasq-php-pxelinux.md. */
export const PXELINUX_GUIDE = {
  guide: resolve(REPO_ROOT, 'docs/guides/migrate-dnsmasq-php-pxelinux.md'),
  /** The guide's build01 (00:12:34:56:78:90) is this VM. */
  mac: '52:54:00:e2:08:31',
  append: 'priority=low hostname=build01 console=ttyS0,115200n8 quiet',
  /** menu.c32's TIMEOUT 30 in the guide's policy. */
  menuTimeoutMs: 3000,
}

export async function startPxelinuxGuideSite(net: TestNet, payload: BootPayload): Promise<GuideServer> {
  const www = join(net.dir, 'site', 'www')
  return startGuideBootpolicy({
    net,
    guide: PXELINUX_GUIDE.guide,
    url: `http://${net.serverIp}`,
    substitutions: { '"eth0"': `"${net.bridge}"`, '10.188.0.10': net.serverIp, '10.188.0.': prefixOf(net), '/var/www': www, '00:12:34:56:78:90': PXELINUX_GUIDE.mac },
    files: {
      'www/lpxelinux.0': lpxelinux(),
      ...Object.fromEntries(['ldlinux.c32', 'menu.c32', 'libutil.c32', 'chain.c32', 'libcom32.c32'].map((m) => [`www/${m}`, c32(m)])),
      'www/debian-installer/amd64/linux': payload.kernel,
      'www/debian-installer/amd64/initrd.gz': payload.initrd,
    },
  })
}

/** Seed 004: docs/guides/migrate-isc-dhcpd-arch.md; three of its reservations, one per firmware. */
export const ISC_GUIDE = {
  guide: resolve(REPO_ROOT, 'docs/guides/migrate-isc-dhcpd-arch.md'),
  hosts: [
    { firmware: 'bios', guideMac: '52:54:00:6b:00:11', mac: '52:54:00:e2:08:41', octet: 54, name: 'oldbox', arch: 'i386-pcbios' },
    { firmware: 'uefi', guideMac: '52:54:00:6b:00:12', mac: '52:54:00:e2:08:42', octet: 55, name: 'efibox', arch: 'x86_64-efi' },
    // The guide's first reservation (the seed's own host), booted by OVMF's PXE client.
    { firmware: 'uefi-pxe', guideMac: '10:60:4b:11:71:34', mac: '52:54:00:e2:08:43', octet: 53, name: 'photosmart', arch: 'x86_64-efi' },
  ] as ReadonlyArray<{ firmware: Firmware; guideMac: string; mac: string; octet: number; name: string; arch: string }>,
  /** What OVMF's PXE client gets for option 93 = 7 (the guide's arch map). */
  efiBootFile: 'efi-x64/shim.efi',
}

export async function startIscGuideSite(net: TestNet, payload: BootPayload): Promise<GuideServer> {
  const root = join(net.dir, 'site', 'tftpboot')
  const server = await startGuideBootpolicy({
    net,
    guide: ISC_GUIDE.guide,
    url: `http://${net.serverIp}:8080`,
    substitutions: {
      '"eth0"': `"${net.bridge}"`,
      '192.168.2.10': net.serverIp,
      '192.168.2.': prefixOf(net),
      '/var/lib/tftpboot': root,
      ...Object.fromEntries(ISC_GUIDE.hosts.map((h) => [h.guideMac, h.mac])),
    },
    files: {
      'tftpboot/lpxelinux.0': lpxelinux(),
      'tftpboot/ldlinux.c32': c32('ldlinux.c32'),
      'tftpboot/vmlinuz': payload.kernel,
      'tftpboot/initrd.gz': payload.initrd,
    },
  })
  // No shim on this machine: Debian's snponly.efi stands in at the guide's path (a copy, not a
  // link: the TFTP root refuses links out of it).
  mkdirSync(join(root, 'efi-x64'), { recursive: true })
  copyFileSync(requireFile('/usr/lib/ipxe/snponly.efi', 'ipxe'), join(root, ISC_GUIDE.efiBootFile))
  return server
}
