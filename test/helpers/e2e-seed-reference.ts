/**
 * Seeds 001 and 002 as they ran before bootpolicy, for bench/e2e-boot-times.ts's seed rows: the
 * router's DHCP (e2e-site-dhcp.ts; addresses only for seed 001, pfSense's boot lines for seed 002),
 * dnsmasq on the server host as proxyDHCP + TFTP (`dhcp-range=<net>,proxy`), and a static HTTP
 * server (the NAS) holding a hand-written iPXE menu with the seed's items and keys, and the same
 * files. A seed row is then compared with this boot in the same topology, through the same menu
 * and key, instead of with a full-DHCP baseline that has no proxy exchange and no menu.
 *
 * dnsmasq 2.90 in proxy mode answers iPXE only through `pxe-service` lines (with `dhcp-boot`
 * alone it logs the client and sends nothing).
 */
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { BootPayload } from './boot-payload.js'
import { startStaticHttp } from './e2e-http.js'
import type { TestNet } from './e2e-net.js'
import { requireCommand, requireFile } from './e2e-require.js'
import { pfsenseBootLines, SMARTOS_BUILDS, SMARTOS_HASH, SYSRCD_DAT } from './e2e-seed-sites.js'
import { serialReportingInitrd } from './e2e-serial-init.js'
import { startSiteDhcp } from './e2e-site-dhcp.js'

export interface SeedReference {
  close(): Promise<void>
}

/** The NAS's menu: the guide's items and keys; rescue boots the payload with the guide's arguments. */
export function seed001ReferenceMenu(base: string): string {
  return [
    '#!ipxe',
    'menu Network boot',
    'item --key r srcd SystemRescueCd',
    'item --key s shell iPXE shell',
    'item --key d disk Boot from the local disk',
    'choose --timeout 10000 --default disk target && goto ${target} || goto shell',
    ':srcd',
    'cpuid --ext 29 && set bits 64 || set bits 32',
    `kernel ${base}/sysresccd/isolinux/rescue\${bits} setkmap=de dodhcp netboot=${base}/sysresccd/sysrcd.dat initrd=initram.igz`,
    `initrd ${base}/sysresccd/isolinux/initram.igz`,
    'boot',
    ':shell',
    'shell',
    ':disk',
    'exit',
    '',
  ].join('\n')
}

/** Seed 002's menu (its own layout: two platform builds with a noimport twin each, utilities, exit), booting the newest. */
export function seed002ReferenceMenu(base: string, builds: readonly string[], shadow: string): string {
  const lines = ['#!ipxe', "menu Welcome to iPXE's Boot Menu"]
  builds.forEach((build, i) => {
    lines.push('item --gap', `item --gap -- ------------------------- SmartOS option ${i + 1} -------------------------`)
    lines.push(`item os${i} Boot SmartOS (${build})`, `item os${i}n Boot SmartOS (${build}) noimport`)
  })
  lines.push('item --gap -- ------------------------------ Utilities ------------------------------')
  lines.push('item shell Enter iPXE shell', 'item reboot Reboot', 'item --gap', 'item exit Exit (boot local disk)')
  lines.push('choose --default os0 --timeout 30000 target && goto ${target} || goto shell')
  builds.forEach((build, i) => {
    const dir = `${base}/smartos/${build}/platform/i86pc`
    for (const [label, extra] of [
      [`os${i}`, ''],
      [`os${i}n`, ',noimport=true'],
    ] as const) {
      lines.push(`:${label}`, `kernel ${dir}/kernel/amd64/unix -B console=text,root_shadow='${shadow}',smartos=true${extra}`, `module ${dir}/amd64/boot_archive`, 'boot')
    }
  })
  lines.push(':shell', 'shell', ':reboot', 'reboot', ':exit', 'exit', '')
  return lines.join('\n')
}

interface ReferenceSite {
  /** Files under the static server's root: relative path → source path or contents. */
  readonly files: Readonly<Record<string, string | { readonly text: string | Buffer }>>
  /** The router's boot lines (e2e-site-dhcp.ts `bootLines`). */
  readonly siteBootLines?: readonly string[]
}

/** Router DHCP + dnsmasq proxyDHCP/TFTP on the server host + a static HTTP server with `files` and menu.ipxe. */
async function startReference(net: TestNet, menu: string, site: ReferenceSite): Promise<SeedReference> {
  const dnsmasq = requireCommand('dnsmasq', 'dnsmasq-base')
  const base = `http://${net.serverIp}:8080`
  const www = join(net.dir, 'nas')
  for (const [rel, source] of Object.entries({ ...site.files, 'menu.ipxe': { text: menu } })) {
    const target = join(www, rel)
    mkdirSync(dirname(target), { recursive: true })
    if (typeof source === 'string') symlinkSync(source, target)
    else writeFileSync(target, source.text)
  }
  const tftp = join(net.dir, 'proxy-tftp')
  mkdirSync(tftp)
  for (const f of ['undionly.kpxe', 'ipxe.efi']) copyFileSync(requireFile(`/usr/lib/ipxe/${f}`, 'ipxe'), join(tftp, f))

  const router = await startSiteDhcp(net, { bootLines: site.siteBootLines ?? [] })
  try {
    const configFile = join(net.dir, 'proxy-dnsmasq.conf')
    writeFileSync(
      configFile,
      [
        'port=0',
        `interface=${net.bridge}`,
        'bind-interfaces',
        `dhcp-range=${net.serverIp.replace(/\.1$/, '.0')},proxy`,
        'dhcp-match=set:ipxe,175',
        `pxe-service=tag:ipxe,x86PC,"menu",${base}/menu.ipxe`,
        `pxe-service=tag:ipxe,X86-64_EFI,"menu",${base}/menu.ipxe`,
        // OVMF's own PXE client: iPXE over TFTP first, as the guide's archMap gives it.
        'pxe-service=tag:!ipxe,X86-64_EFI,"iPXE",ipxe.efi',
        'pxe-service=tag:!ipxe,BC_EFI,"iPXE",ipxe.efi',
        'enable-tftp',
        `tftp-root=${tftp}`,
        'log-dhcp',
        '',
      ].join('\n'),
    )
    const proxy = net.spawn('proxy-dnsmasq', dnsmasq, [`--conf-file=${configFile}`, '--keep-in-foreground', '--log-facility=-', '--pid-file=', '--user=root'])
    await proxy.waitForOutput(/TFTP root is/, 5000)
    const nas = await startStaticHttp(net, { root: www, port: 8080, name: 'nas-http' })
    return {
      close: async () => {
        await Promise.all([proxy.stop(), nas.process.stop(), router.close()])
      },
    }
  } catch (err) {
    await router.close()
    throw err
  }
}

export function startSeed001Reference(net: TestNet, payload: BootPayload): Promise<SeedReference> {
  return startReference(net, seed001ReferenceMenu(`http://${net.serverIp}:8080`), {
    files: {
      'sysresccd/isolinux/rescue64': payload.kernel,
      'sysresccd/isolinux/rescue32': payload.kernel,
      'sysresccd/isolinux/initram.igz': { text: serialReportingInitrd(payload) },
      'sysresccd/sysrcd.dat': { text: SYSRCD_DAT },
    },
  })
}

/**
 * Seed 002's site with a dnsmasq proxy beside pfSense: the router names undionly.kpxe/ipxe.efi on
 * the server host, the proxy's `pxe-service` answer sends iPXE to boot server discovery
 * ("PXEBS (net0 type 128)"), and the file of that reply wins over the router's without any option
 * 175.1 priority (measured 2026-12-04: no loop with or without it).
 */
export function startSeed002Reference(net: TestNet, payload: BootPayload): Promise<SeedReference> {
  const files: Record<string, string | { text: Buffer }> = {}
  const archive = serialReportingInitrd(payload)
  // Newest first, as the guide's policy lists them.
  const builds = [...SMARTOS_BUILDS].reverse()
  for (const build of builds) {
    files[`smartos/${build}/platform/i86pc/kernel/amd64/unix`] = payload.kernel
    files[`smartos/${build}/platform/i86pc/amd64/boot_archive`] = { text: archive }
  }
  return startReference(net, seed002ReferenceMenu(`http://${net.serverIp}:8080`, builds, SMARTOS_HASH), { files, siteBootLines: pfsenseBootLines(net) })
}
