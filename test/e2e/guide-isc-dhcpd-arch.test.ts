/**
 * docs/guides/migrate-isc-dhcpd-arch.md (seed 004) as written: its config (full DHCP with static
 * reservations, option-93 arch map, TFTP) and its policy are the fixture, with the site's
 * addresses, interface, folder and two of the reserved MACs substituted.
 *
 * Three reserved machines boot at once (the bridge gives each its own tap):
 * - BIOS with the iPXE ROM → /boot.ipxe → lpxelinux → its generated config → the kernel;
 * - UEFI with the iPXE ROM → /boot.ipxe → boot() of the same kernel;
 * - OVMF's own PXE client (no iPXE ROM, option 93 = 7, no 175) → `efi-x64/shim.efi` by the arch
 *   map over bootpolicy's TFTP. There is no shim here: Debian's snponly.efi sits at that path, so
 *   what loads is iPXE, which asks DHCP again and gets /boot.ipxe (the loop breaker).
 * Each must get its reservation, seen four ways: bootpolicy's DHCP log (yiaddr), the firmware's
 * own console line (iPXE `net0: <ip>/…`, OVMF `Station IP address is <ip>`), the decision log's
 * context (ip and host name iPXE reported), and the booted kernel's command line
 * (`ip=<ip>::::<name>`, `host=<name>`: DHCP option 12 → iPXE → /boot → policy → kernel).
 */
import { copyFileSync, mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import t from 'tap'
import { buildBootPayload } from '../helpers/boot-payload.js'
import { bootToMarkerTolerant, REPO_ROOT, serverTail } from '../helpers/e2e-bootpolicy.js'
import { startGuideBootpolicy } from '../helpers/e2e-guide.js'
import { createTestNet } from '../helpers/e2e-net.js'
import { requireFile } from '../helpers/e2e-require.js'
import { BOOT_FAILURES, type Firmware } from '../helpers/qemu.js'

const GUIDE = resolve(REPO_ROOT, 'docs/guides/migrate-isc-dhcpd-arch.md')
const FAILURES = new RegExp(`${BOOT_FAILURES.source}|Failed to load \\S+|Boot failed: press a key|Could not find kernel image`)
const hosts: ReadonlyArray<{ firmware: Firmware; guideMac: string; mac: string; octet: number; name: string; arch: string }> = [
  { firmware: 'bios', guideMac: '52:54:00:6b:00:11', mac: '52:54:00:e2:08:41', octet: 54, name: 'oldbox', arch: 'i386-pcbios' },
  { firmware: 'uefi', guideMac: '52:54:00:6b:00:12', mac: '52:54:00:e2:08:42', octet: 55, name: 'efibox', arch: 'x86_64-efi' },
  // The guide's first reservation (the seed's own host), booted by OVMF's PXE client.
  { firmware: 'uefi-pxe', guideMac: '10:60:4b:11:71:34', mac: '52:54:00:e2:08:43', octet: 53, name: 'photosmart', arch: 'x86_64-efi' },
]

t.test('seed 004 guide as written: reservations, option-93 dispatch, three firmwares booting at once', async (t) => {
  const payload = await buildBootPayload()
  const net = await createTestNet()
  t.teardown(() => net.close({ keepLogs: !t.passing() }))
  const prefix = net.serverIp.replace(/\.\d+$/, '.')
  const root = join(net.dir, 'site', 'tftpboot')
  const modules = '/usr/lib/syslinux/modules/bios'
  const server = await startGuideBootpolicy({
    net,
    guide: GUIDE,
    url: `http://${net.serverIp}:8080`,
    substitutions: {
      '"eth0"': `"${net.bridge}"`,
      '192.168.2.10': net.serverIp,
      '192.168.2.': prefix,
      '/var/lib/tftpboot': root,
      ...Object.fromEntries(hosts.map((h) => [h.guideMac, h.mac])),
    },
    files: {
      'tftpboot/lpxelinux.0': requireFile('/usr/lib/PXELINUX/lpxelinux.0', 'pxelinux'),
      'tftpboot/ldlinux.c32': requireFile(`${modules}/ldlinux.c32`, 'syslinux-common'),
      'tftpboot/vmlinuz': payload.kernel,
      'tftpboot/initrd.gz': payload.initrd,
    },
  })
  t.teardown(() => {
    if (!t.passing()) t.comment(serverTail(server))
  })
  // The stand-in for shim (see the header); a copy, not a link: the TFTP root refuses links out of it.
  mkdirSync(join(root, 'efi-x64'), { recursive: true })
  copyFileSync(requireFile('/usr/lib/ipxe/snponly.efi', 'ipxe'), join(root, 'efi-x64', 'shim.efi'))
  t.same(server.guideFiles, ['bootpolicy.json', 'policies/30-reserved-hosts.ts'], 'the guide\'s config and policy are the fixture')

  const started = performance.now()
  const boots = await Promise.all(hosts.map((h) => bootToMarkerTolerant({ net, firmware: h.firmware, mac: h.mac, name: `qemu-${h.name}`, timeoutMs: 240_000, failOn: FAILURES })))
  t.comment(`three boots in parallel: ${Math.round(performance.now() - started)} ms wall; markers at ${boots.map((b) => `${b.firmware} ${b.markerMs} ms`).join(', ')}`)

  for (const [i, h] of hosts.entries()) {
    await t.test(`${h.firmware}: ${h.name} gets ${prefix}${h.octet}`, async (t) => {
      const boot = boots[i]!
      const ip = `${prefix}${h.octet}`
      const args = `console=ttyS0,115200n8 host=${h.name} ip=${ip}::::${h.name}`
      if (h.firmware === 'bios') {
        t.equal(boot.report.cmdline, `BOOT_IMAGE=vmlinuz ${args} initrd=initrd.gz`, 'lpxelinux booted the generated entry')
        t.match(boot.log, /PXELINUX 6\.\d+ lwIP/)
      } else {
        t.equal(boot.report.cmdline, `vmlinuz ${args} initrd=initrd.gz`, 'iPXE booted the kernel (EFI build: image name first)')
      }
      t.match(boot.log, new RegExp(`net0: ${ip.replaceAll('.', '\\.')}/255\\.255\\.255\\.0`), 'iPXE printed the reserved address')
      if (h.firmware === 'uefi-pxe') {
        t.match(boot.log, new RegExp(`Station IP address is ${ip.replaceAll('.', '\\.')}\\b`), 'OVMF\'s PXE client got the reserved address too')
        t.match(boot.log, /NBP file downloaded successfully/)
      }

      const replies = server.dhcpReplies().filter((r) => r.mac === h.mac)
      t.ok(replies.length >= 2, 'DHCP offered and acknowledged')
      t.ok(replies.every((r) => r.yiaddr === ip), `every reply carried ${ip}`)
      const pxe = replies.filter((r) => !r.isIpxe)
      if (h.firmware === 'uefi-pxe') {
        t.ok(pxe.length >= 2 && pxe.every((r) => r.clientArchCode === 7 && r.reason === 'arch' && r.bootfile === 'efi-x64/shim.efi'), 'option 93 = 7 → efi-x64/shim.efi')
        t.ok(server.tftpTransfers().some((x) => x.file === 'efi-x64/shim.efi' && x.client === ip), 'fetched over bootpolicy\'s TFTP from the reserved address')
      } else {
        t.same(pxe, [], 'no plain-PXE request: the ROM is iPXE')
      }
      t.ok(replies.filter((r) => r.isIpxe).every((r) => r.reason === 'ipxe' && r.bootfile === `${server.url}/boot.ipxe`), 'iPXE got the bootstrap')

      const d = server.decisionsFor(h.mac)
      t.equal(d.length, 1, 'one /boot request')
      t.match(d[0], {
        decidedBy: 'policy:30-reserved-hosts.ts',
        kind: h.firmware === 'bios' ? 'pxelinux-cfg.chain' : 'boot',
        context: { mac: h.mac, arch: h.arch, ip, hostname: h.name, remoteAddress: ip },
      })
    })
  }
  t.same(server.problems(), [], 'no warnings or errors in the server log')
})
