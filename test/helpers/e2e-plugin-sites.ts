/**
 * The smartos + sysresccd plugin site of bootpolicy-smartos-sysresccd.test.ts (bootpolicy the only
 * server, the fixture policies in test/fixtures/e2e/smartos-sysresccd), shared with
 * bench/e2e-boot-times.ts so that the bench boots exactly what the test proves. Its file tree is
 * built from the prepared payload: SmartOS builds whose `unix` is the payload kernel and whose
 * boot_archive reports on the serial port, and a SystemRescue archiso tree.
 */
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { BootPayload } from './boot-payload.js'
import { type BootpolicyServer, startBootpolicy } from './e2e-bootpolicy.js'
import type { TestNet } from './e2e-net.js'
import { serialInitOverlay } from './e2e-serial-init.js'

export const SMARTOS_MAC = '52:54:00:e2:04:02'
export const RESCUE_MAC = '52:54:00:e2:04:01'
export const RESCUE_UEFI_MAC = '52:54:00:e2:04:03'
export const SMARTOS_BUILDS = ['20240101T000000Z', '20250606T123456Z']
export const SMARTOS_NEWEST = '20250606T123456Z'
export const ROOT_SHADOW = '$5$rounds=5000$e2eSalt$Qm9vdHBvbGljeUUyZVRlc3RIYXNoVmFsdWUx'
const SFS = 'e2e squashfs stand-in\n'

export interface PluginSite {
  readonly server: BootpolicyServer
  /** The sysresccd plugin's httpBase (archiso_http_srv=…). */
  readonly httpBase: string
}

export async function startSmartosSysresccdSite(net: TestNet, payload: BootPayload): Promise<PluginSite> {
  const bootArchive = join(net.dir, 'boot_archive')
  writeFileSync(bootArchive, Buffer.concat([readFileSync(payload.initrd), serialInitOverlay()]))
  const filesDir = join(net.dir, 'bootpolicy', 'files') // startBootpolicy's files.dir
  const httpBase = `http://${net.serverIp}:8080/files/sysresccd/`
  const extraFiles: Record<string, string | { text: string }> = {
    'sysresccd/VERSION': { text: '11.02\n' },
    'sysresccd/sysresccd/boot/x86_64/vmlinuz': payload.kernel,
    'sysresccd/sysresccd/boot/x86_64/sysresccd.img': payload.initrd,
    'sysresccd/sysresccd/x86_64/airootfs.sfs': { text: SFS },
    'sysresccd/sysresccd/x86_64/airootfs.sha512': { text: `${createHash('sha512').update(SFS).digest('hex')}  airootfs.sfs\n` },
  }
  for (const build of SMARTOS_BUILDS) {
    extraFiles[`smartos/${build}/platform/i86pc/kernel/amd64/unix`] = payload.kernel
    extraFiles[`smartos/${build}/platform/i86pc/amd64/boot_archive`] = bootArchive
  }
  const server = await startBootpolicy({
    net,
    scenario: 'smartos-sysresccd',
    payload,
    tftpFiles: [],
    extraFiles,
    config: {
      plugins: [
        { name: 'smartos', options: { root: join(filesDir, 'smartos'), urlPrefix: '/files/smartos', rootShadow: ROOT_SHADOW, rescanMs: 0 } },
        { name: 'sysresccd', options: { root: join(filesDir, 'sysresccd'), httpBase, urlPrefix: '/files/sysresccd/', args: ['console=ttyS0', 'quiet', 'panic=-1'] } },
      ],
    },
  })
  return { server, httpBase }
}
