/**
 * The baseline boot: dnsmasq (DHCP + TFTP) and a static HTTP server in a fresh TestNet hand real
 * iPXE a script that boots the payload. Its time to marker is what bootpolicy's own boots are
 * compared with ("bootpolicy vs dnsmasq"), so both run on the same harness: same namespace setup,
 * same router advertisement, same QEMU flags, same payload.
 */
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { type BootPayload, buildBootPayload, payloadKernelArgs } from './boot-payload.js'
import { startDnsmasq } from './e2e-dnsmasq.js'
import { type HttpRequestRecord, startStaticHttp } from './e2e-http.js'
import { createTestNet } from './e2e-net.js'
import { requireFile } from './e2e-require.js'
import { bootToMarker, type BootResult, type Firmware, type Smbios } from './qemu.js'

export interface BaselineBootOptions {
  readonly firmware: Firmware
  /** Default: buildBootPayload(). */
  readonly payload?: BootPayload
  readonly mac?: string
  readonly smbios?: Smbios
  /** Kernel arguments after the payload's own (default `bp.e2e=baseline`). */
  readonly kernelArgs?: string
  /** Keep <net.dir> (serial, dnsmasq, http logs) even when the boot succeeds. It is always kept on failure. */
  readonly keepLogs?: boolean
  /** uefi-pxe: the NBP OVMF loads over TFTP (default ipxe.efi; see DnsmasqOptions.efiBootFile). */
  readonly efiBootFile?: string
  /** Wait for the marker at most this long (default 120 s). */
  readonly timeoutMs?: number
  /**
   * BIOS through lpxelinux, as the seed 003/004 sites boot: the static script hands iPXE's settings
   * with option 210 to lpxelinux.0 over HTTP, which loads ldlinux.c32 and pxelinux.cfg/default from
   * the same server. `menu`: menu.c32 with a 3 s timeout, as the seed 003 guide; `plain`: no menu,
   * as the seed 004 guide.
   */
  readonly pxelinux?: 'menu' | 'plain'
}

export interface BaselineBootResult extends BootResult {
  /** ms to create the namespace and start dnsmasq + HTTP (not part of markerMs). */
  readonly setupMs: number
  /** ms for everything: setup, boot, teardown. */
  readonly totalMs: number
  readonly httpRequests: readonly HttpRequestRecord[]
  readonly dnsmasqLog: string
  /** The iPXE script served at /boot.ipxe. */
  readonly script: string
}

const SYSLINUX_BIOS = '/usr/lib/syslinux/modules/bios'

/** The files and the static config of the lpxelinux baseline (see BaselineBootOptions.pxelinux). */
function writePxelinuxSite(www: string, payload: BootPayload, kind: 'menu' | 'plain', kernelArgs: string): void {
  copyFileSync(requireFile('/usr/lib/PXELINUX/lpxelinux.0', 'pxelinux'), join(www, 'lpxelinux.0'))
  const modules = kind === 'menu' ? ['ldlinux.c32', 'menu.c32', 'libutil.c32', 'chain.c32', 'libcom32.c32'] : ['ldlinux.c32']
  for (const m of modules) copyFileSync(requireFile(`${SYSLINUX_BIOS}/${m}`, 'syslinux-common'), join(www, m))
  mkdirSync(join(www, 'pxelinux.cfg'))
  const header = kind === 'menu' ? ['UI menu.c32', 'MENU TITLE Network boot: baseline', 'DEFAULT install', 'PROMPT 0', 'TIMEOUT 30'] : ['DEFAULT install', 'PROMPT 0', 'TIMEOUT 0']
  const entries = [
    'LABEL local',
    '  KERNEL chain.c32',
    '  APPEND hd0',
    'LABEL install',
    `  KERNEL ${payload.kernelName}`,
    `  INITRD ${payload.initrdName}`,
    `  APPEND console=ttyS0 quiet panic=-1 ${kernelArgs}`,
  ]
  writeFileSync(join(www, 'pxelinux.cfg', 'default'), `${[...header, ...entries].join('\n')}\n`)
}

/** The script the baseline serves; bootpolicy scenarios should render the same lines for a fair comparison. */
export function baselineScript(baseUrl: string, payload: BootPayload, kernelArgs = 'bp.e2e=baseline'): string {
  return ['#!ipxe', `kernel ${baseUrl}/${payload.kernelName} ${payloadKernelArgs(payload, kernelArgs)}`, `initrd ${baseUrl}/${payload.initrdName}`, 'boot', ''].join('\n')
}

export async function runBaselineBoot(options: BaselineBootOptions): Promise<BaselineBootResult> {
  const t0 = performance.now()
  const payload = options.payload ?? (await buildBootPayload())
  const net = await createTestNet()
  let ok = false
  try {
    const www = join(net.dir, 'www')
    mkdirSync(www)
    symlinkSync(payload.kernel, join(www, payload.kernelName))
    symlinkSync(payload.initrd, join(www, payload.initrdName))
    const httpUrl = `http://${net.serverIp}:8080`
    const script = options.pxelinux ? ['#!ipxe', `set 210:string ${httpUrl}/`, `chain ${httpUrl}/lpxelinux.0`, ''].join('\n') : baselineScript(httpUrl, payload, options.kernelArgs)
    if (options.pxelinux) writePxelinuxSite(www, payload, options.pxelinux, options.kernelArgs ?? 'bp.e2e=baseline')
    writeFileSync(join(www, 'boot.ipxe'), script)
    const [http, dnsmasq] = await Promise.all([startStaticHttp(net, { root: www, port: 8080 }), startDnsmasq(net, { ipxeScriptUrl: `${httpUrl}/boot.ipxe`, efiBootFile: options.efiBootFile })])
    const setupMs = Math.round(performance.now() - t0)
    const boot = await bootToMarker({
      net,
      firmware: options.firmware,
      mac: options.mac,
      smbios: options.smbios,
      timeoutMs: options.timeoutMs,
    })
    ok = true
    const result = {
      ...boot,
      setupMs,
      httpRequests: http.requests(),
      dnsmasqLog: dnsmasq.process.output(),
      script,
    }
    await net.close({ keepLogs: options.keepLogs })
    return { ...result, totalMs: Math.round(performance.now() - t0) }
  } finally {
    if (!ok) {
      await net.close({ keepLogs: true })
      process.stderr.write(`e2e baseline (${options.firmware}) failed; logs kept in ${net.dir}\n`)
    }
  }
}
