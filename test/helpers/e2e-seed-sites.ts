/**
 * The sites of seeds 001 and 002 as their migration guides describe them, for the e2e scenarios
 * and bench/e2e-boot-times.ts alike: the site's own DHCP server in a router namespace
 * (e2e-site-dhcp.ts) and bootpolicy beside it in proxy mode, its config and policy extracted from
 * the guide (guide-fixture.ts), its file tree built from the one prepared payload. Plus a boot that
 * goes through an iPXE menu by pressing a key on the serial console.
 */
import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type BootPayload, type MarkerReport, PAYLOAD_MARKER } from './boot-payload.js'
import { type BootpolicyServer, parseMarkerReportTolerant, REPO_ROOT, startBootpolicy } from './e2e-bootpolicy.js'
import type { TestNet } from './e2e-net.js'
import { serialReportingInitrd } from './e2e-serial-init.js'
import { type SiteDhcp, startSiteDhcp } from './e2e-site-dhcp.js'
import { writeGuideFixture } from './guide-fixture.js'
import { BOOT_FAILURES, type Firmware, startQemu } from './qemu.js'

export const GUIDE_001 = join(REPO_ROOT, 'docs', 'guides', 'migrate-sysresccd-proxydhcp.md')
export const GUIDE_002 = join(REPO_ROOT, 'docs', 'guides', 'migrate-smartos-pfsense.md')

export interface SeedSite {
  readonly server: BootpolicyServer
  readonly site: SiteDhcp
  close(): Promise<void>
}

/** Where startBootpolicy keeps its site (config, files, tftp): the guide's fixture goes there too. */
const siteRoot = (net: TestNet): string => join(net.dir, 'bootpolicy')

async function startGuideSite(
  net: TestNet,
  payload: BootPayload,
  guide: string,
  substitutions: Record<string, string>,
  policies: string,
  extraFiles: Record<string, string | { text: string }>,
  siteBootLines: readonly string[],
): Promise<SeedSite> {
  const site = await startSiteDhcp(net, { bootLines: siteBootLines })
  try {
    const root = siteRoot(net)
    const fixture = writeGuideFixture(guide, root, { '/srv/files': join(root, 'files'), '/srv/tftp': join(root, 'tftp'), ...substitutions })
    const server = await startBootpolicy({
      net,
      scenario: policies,
      policiesDir: join(root, policies),
      payload,
      tftpFiles: ['undionly.kpxe', 'ipxe.efi'],
      extraFiles,
      // The guide's config over the harness's, which adds only: dhcp.interface br0, http.host,
      // debug logging, policies.watch false, a state dir, TFTP on the server address.
      config: JSON.parse(fixture['bootpolicy.json']!) as Record<string, unknown>,
    })
    return { server, site, close: async () => void (await Promise.all([server.stop(), site.close()])) }
  } catch (err) {
    await site.close()
    throw err
  }
}

export const SYSRCD_DAT = 'sysrcd.dat stand-in\n'

/** Seed 001: a router handing out addresses only; bootpolicy proxy + TFTP + HTTP; the SystemRescueCd menu. */
export async function startSeed001Site(net: TestNet, payload: BootPayload): Promise<SeedSite> {
  const initram = join(net.dir, 'initram.igz')
  writeFileSync(initram, serialReportingInitrd(payload))
  return startGuideSite(
    net,
    payload,
    GUIDE_001,
    { '172.16.0.2': net.serverIp },
    'policies/sysresccd',
    {
      'sysresccd/sysrcd.dat': { text: SYSRCD_DAT },
      'sysresccd/sysrcd.md5': { text: `${createHash('md5').update(SYSRCD_DAT).digest('hex')}  sysrcd.dat\n` },
      'sysresccd/isolinux/rescue32': payload.kernel,
      'sysresccd/isolinux/rescue64': payload.kernel,
      'sysresccd/isolinux/initram.igz': initram,
    },
    [],
  )
}

export const SMARTOS_BUILDS = ['20240101T000000Z', '20250606T123456Z'] as const
export const SMARTOS_NEWEST = '20250606T123456Z'
export const SMARTOS_HASH = '$5$rounds=5000$e2eSalt$Qm9vdHBvbGljeUUyZVRlc3RIYXNoVmFsdWUx'
/** What pfSense hands out per architecture (its "Default BIOS file name" / "UEFI 64 bit file name"). */
export const PFSENSE_FILES = { bios: 'undionly.kpxe', efi64: 'ipxe.efi' } as const

/** The router's boot lines as pfSense has them: next-server = the boot host, a file name per architecture. */
export function pfsenseBootLines(net: TestNet): string[] {
  return ['dhcp-match=set:efi64,option:client-arch,7', `dhcp-boot=tag:efi64,${PFSENSE_FILES.efi64},,${net.serverIp}`, `dhcp-boot=tag:!efi64,${PFSENSE_FILES.bios},,${net.serverIp}`]
}

/** Seed 002: pfSense-style DHCP (range, next-server, file name, no iPXE detection); bootpolicy proxy beside it. */
export async function startSeed002Site(net: TestNet, payload: BootPayload): Promise<SeedSite> {
  const bootArchive = join(net.dir, 'boot_archive')
  writeFileSync(bootArchive, serialReportingInitrd(payload))
  const files: Record<string, string> = {}
  for (const build of SMARTOS_BUILDS) {
    files[`smartos/${build}/platform/i86pc/kernel/amd64/unix`] = payload.kernel
    files[`smartos/${build}/platform/i86pc/amd64/boot_archive`] = bootArchive
  }
  return startGuideSite(net, payload, GUIDE_002, { '10.1.1.7': net.serverIp, '$5$<salt>$<hash>': SMARTOS_HASH }, 'policies/smartos', files, pfsenseBootLines(net))
}

export interface MenuBoot {
  readonly menuMs: number
  /** Absent with stopAtMenu. */
  readonly markerMs?: number
  readonly report?: MarkerReport
  /** The cleaned serial log. */
  readonly log: string
}

/** Boot until `menu` shows on the console, press `key`, wait for the payload's marker (unless stopAtMenu). */
export async function bootThroughMenu(options: {
  readonly net: TestNet
  readonly firmware: Firmware
  readonly mac: string
  readonly menu: RegExp
  readonly key: string
  readonly stopAtMenu?: boolean
  readonly timeoutMs?: number
}): Promise<MenuBoot> {
  const vm = await startQemu({ net: options.net, firmware: options.firmware, mac: options.mac, name: `qemu-${options.firmware}` })
  try {
    const menu = await vm.waitFor(options.menu, options.timeoutMs ?? 180_000, { failOn: BOOT_FAILURES })
    if (options.stopAtMenu) return { menuMs: Math.round(menu.atMs), log: vm.log() }
    vm.process.write(options.key)
    const done = await vm.waitFor(new RegExp(PAYLOAD_MARKER), options.timeoutMs ?? 180_000, { failOn: BOOT_FAILURES })
    const log = vm.log()
    const report = parseMarkerReportTolerant(log)
    if (!report) throw new Error(`${vm.process.name}: marker seen but no report lines (${vm.process.logFile})`)
    return { menuMs: Math.round(menu.atMs), markerMs: Math.round(done.atMs), report, log }
  } finally {
    await vm.stop()
  }
}
