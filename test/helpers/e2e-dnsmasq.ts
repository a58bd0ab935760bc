/**
 * dnsmasq as the baseline boot server inside a TestNet: full DHCPv4 (the namespace has no other
 * server) plus TFTP, configured the way a careful admin would for iPXE:
 * - iPXE clients (option 175 present) get the HTTP script URL as their boot file;
 * - plain PXE clients get an iPXE binary over TFTP by architecture (0 → undionly.kpxe, 7/9 → ipxe.efi);
 * - 175.176 (no-pxedhcp) = 1, so iPXE does not wait ~3 s for ProxyDHCP offers;
 * - no-ping, so dnsmasq does not probe an address before offering it.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TestNet } from './e2e-net.js'
import type { OwnedProcess } from './e2e-process.js'
import { requireCommand, requireFile } from './e2e-require.js'

export interface DnsmasqOptions {
  /** Boot file for iPXE clients: the URL of the first script. */
  readonly ipxeScriptUrl: string
  /** TFTP root (default <net.dir>/tftp, holding copies of Debian's undionly.kpxe and ipxe.efi). */
  readonly tftpRoot?: string
  /**
   * What OVMF's own PXE client gets over TFTP (default ipxe.efi). snponly.efi (also in the TFTP root)
   * starts ~4 s faster under OVMF: ipxe.efi first probes its own drivers, then falls back to SNP.
   */
  readonly efiBootFile?: string
  /** Send 175.176 = 1 (default true). */
  readonly noPxeDhcp?: boolean
  /** More dnsmasq.conf lines, appended last. */
  readonly extraConfig?: readonly string[]
}

export interface Dnsmasq {
  readonly process: OwnedProcess
  readonly configFile: string
  readonly tftpRoot: string
}

export function dnsmasqConfig(net: TestNet, options: DnsmasqOptions & { tftpRoot: string }): string {
  return [
    'port=0',
    `interface=${net.bridge}`,
    'bind-interfaces',
    `dhcp-range=${net.pool.start},${net.pool.end},${net.netmask},1h`,
    'dhcp-authoritative',
    'no-ping',
    `dhcp-leasefile=${join(net.dir, 'dnsmasq.leases')}`,
    'dhcp-match=set:ipxe,175',
    'dhcp-match=set:efi64,option:client-arch,7',
    'dhcp-match=set:efi64,option:client-arch,9',
    `dhcp-boot=tag:ipxe,${options.ipxeScriptUrl}`,
    `dhcp-boot=tag:!ipxe,tag:efi64,${options.efiBootFile ?? 'ipxe.efi'}`,
    'dhcp-boot=tag:!ipxe,tag:!efi64,undionly.kpxe',
    ...((options.noPxeDhcp ?? true) ? ['dhcp-option=encap:175,176,1'] : []),
    'enable-tftp',
    `tftp-root=${options.tftpRoot}`,
    'log-dhcp',
    ...(options.extraConfig ?? []),
    '',
  ].join('\n')
}

export async function startDnsmasq(net: TestNet, options: DnsmasqOptions): Promise<Dnsmasq> {
  const dnsmasq = requireCommand('dnsmasq', 'dnsmasq-base')
  let tftpRoot = options.tftpRoot
  if (!tftpRoot) {
    tftpRoot = join(net.dir, 'tftp')
    mkdirSync(tftpRoot, { recursive: true })
    copyFileSync(requireFile('/usr/lib/ipxe/ipxe.efi', 'ipxe'), join(tftpRoot, 'ipxe.efi'))
    copyFileSync(requireFile('/usr/lib/ipxe/snponly.efi', 'ipxe'), join(tftpRoot, 'snponly.efi'))
    copyFileSync(requireFile('/usr/lib/ipxe/undionly.kpxe', 'ipxe'), join(tftpRoot, 'undionly.kpxe'))
  }
  const configFile = join(net.dir, 'dnsmasq.conf')
  writeFileSync(configFile, dnsmasqConfig(net, { ...options, tftpRoot }))
  const proc = net.spawn('dnsmasq', dnsmasq, [`--conf-file=${configFile}`, '--keep-in-foreground', '--log-facility=-', '--pid-file=', '--user=root'])
  await proc.waitForOutput(/TFTP root is/, 5000)
  return { process: proc, configFile, tftpRoot }
}
