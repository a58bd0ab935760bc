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
import t from 'tap'
import { buildBootPayload } from '../helpers/boot-payload.js'
import { bootToMarkerTolerant, serverTail } from '../helpers/e2e-bootpolicy.js'
import { ISC_GUIDE, PXELINUX_FAILURES as FAILURES, startIscGuideSite } from '../helpers/e2e-guide-sites.js'
import { createTestNet } from '../helpers/e2e-net.js'

// Real components (QEMU under TCG, namespaces, servers) on a loaded 2-core CI host: well past tap's 120 s per file (package.json).
t.setTimeout(600_000)

const { hosts } = ISC_GUIDE

t.test('seed 004 guide as written: reservations, option-93 dispatch, three firmwares booting at once', async (t) => {
  const payload = await buildBootPayload()
  const net = await createTestNet()
  t.teardown(() => net.close({ keepLogs: !t.passing() }))
  const prefix = net.serverIp.replace(/\.\d+$/, '.')
  const server = await startIscGuideSite(net, payload)
  t.teardown(() => {
    if (!t.passing()) t.comment(serverTail(server))
  })
  t.same(server.guideFiles, ['bootpolicy.json', 'policies/30-reserved-hosts.ts'], "the guide's config and policy are the fixture")

  const started = performance.now()
  const boots = await Promise.all(hosts.map((h) => bootToMarkerTolerant({ net, firmware: h.firmware, mac: h.mac, name: `qemu-${h.name}`, timeoutMs: 240_000, failOn: FAILURES })))
  t.comment(`three boots in parallel: ${Math.round(performance.now() - started)} ms wall; markers at ${boots.map((b) => `${b.firmware} ${b.markerMs} ms`).join(', ')}`)

  for (const [i, h] of hosts.entries()) {
    await t.test(`${h.firmware}: ${h.name} gets ${prefix}${h.octet}`, async (t) => {
      const boot = boots[i]!
      const ip = `${prefix}${h.octet}`
      const args = `console=ttyS0,115200n8 quiet host=${h.name} ip=${ip}::::${h.name}`
      if (h.firmware === 'bios') {
        t.equal(boot.report.cmdline, `BOOT_IMAGE=vmlinuz ${args} initrd=initrd.gz`, 'lpxelinux booted the generated entry')
        t.match(boot.log, /PXELINUX 6\.\d+ lwIP/)
      } else {
        t.equal(boot.report.cmdline, `vmlinuz ${args} initrd=initrd.gz`, 'iPXE booted the kernel (EFI build: image name first)')
      }
      // The address only: on a loaded host the serial console has dropped characters later in this
      // line ("net0: 10.213.62.53/255.255.255..213.62.1" in CI); the kernel line above carries it too.
      t.match(boot.log, new RegExp(`net0: ${ip.replaceAll('.', '\\.')}/`), 'iPXE printed the reserved address')
      if (h.firmware === 'uefi-pxe') {
        t.match(boot.log, new RegExp(`Station IP address is ${ip.replaceAll('.', '\\.')}\\b`), "OVMF's PXE client got the reserved address too")
        t.match(boot.log, /NBP file downloaded successfully/)
      }

      const replies = server.dhcpReplies().filter((r) => r.mac === h.mac)
      t.ok(replies.length >= 2, 'DHCP offered and acknowledged')
      t.ok(
        replies.every((r) => r.yiaddr === ip),
        `every reply carried ${ip}`,
      )
      const pxe = replies.filter((r) => !r.isIpxe)
      if (h.firmware === 'uefi-pxe') {
        t.ok(pxe.length >= 2 && pxe.every((r) => r.clientArchCode === 7 && r.reason === 'arch' && r.bootfile === ISC_GUIDE.efiBootFile), 'option 93 = 7 → efi-x64/shim.efi')
        t.ok(
          server.tftpTransfers().some((x) => x.file === ISC_GUIDE.efiBootFile && x.client === ip),
          "fetched over bootpolicy's TFTP from the reserved address",
        )
      } else {
        t.same(pxe, [], 'no plain-PXE request: the ROM is iPXE')
      }
      t.ok(
        replies.filter((r) => r.isIpxe).every((r) => r.reason === 'ipxe' && r.bootfile === `${server.url}/boot.ipxe`),
        'iPXE got the bootstrap',
      )

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
