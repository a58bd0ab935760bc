/**
 * Seed 001 as it ran before bootpolicy, for bench/e2e-boot-times.ts's seed rows: the router's
 * DHCP (addresses only, e2e-site-dhcp.ts), dnsmasq on the server host as proxyDHCP + TFTP
 * (`dhcp-range=<net>,proxy`), and a static HTTP server (the NAS) holding a hand-written iPXE menu
 * with the same three items and hotkeys as the guide's policy, and the same files. A seed row is
 * then compared with this boot in the same topology, through the same menu and key, instead of
 * with a full-DHCP baseline that has no proxy exchange and no menu.
 *
 * iPXE 2019 ignores a ProxyDHCPACK whose `siaddr` is 0, so the boot lines name the next server
 * (`dhcp-boot=…,,<server>`); without it iPXE keeps the router's offer and finds no boot file.
 */
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { BootPayload } from './boot-payload.js'
import { startStaticHttp } from './e2e-http.js'
import type { TestNet } from './e2e-net.js'
import { requireCommand, requireFile } from './e2e-require.js'
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

export async function startSeed001Reference(net: TestNet, payload: BootPayload): Promise<SeedReference> {
  const dnsmasq = requireCommand('dnsmasq', 'dnsmasq-base')
  const base = `http://${net.serverIp}:8080`
  const www = join(net.dir, 'nas')
  mkdirSync(join(www, 'sysresccd', 'isolinux'), { recursive: true })
  symlinkSync(payload.kernel, join(www, 'sysresccd', 'isolinux', 'rescue64'))
  symlinkSync(payload.kernel, join(www, 'sysresccd', 'isolinux', 'rescue32'))
  writeFileSync(join(www, 'sysresccd', 'isolinux', 'initram.igz'), serialReportingInitrd(payload))
  writeFileSync(join(www, 'sysresccd', 'sysrcd.dat'), 'sysrcd.dat stand-in\n')
  writeFileSync(join(www, 'menu.ipxe'), seed001ReferenceMenu(base))
  const tftp = join(net.dir, 'proxy-tftp')
  mkdirSync(tftp)
  for (const f of ['undionly.kpxe', 'ipxe.efi']) copyFileSync(requireFile(`/usr/lib/ipxe/${f}`, 'ipxe'), join(tftp, f))

  const site = await startSiteDhcp(net)
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
        await Promise.all([proxy.stop(), nas.process.stop(), site.close()])
      },
    }
  } catch (err) {
    await site.close()
    throw err
  }
}
