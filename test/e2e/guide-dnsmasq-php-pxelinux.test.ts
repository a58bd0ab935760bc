/**
 * docs/guides/migrate-dnsmasq-php-pxelinux.md (seed 003) as written: its config and its two
 * policies are the fixture (test/helpers/guide-fixture.ts), with only the site's addresses,
 * interface, folder and the pxelinux machine's MAC substituted. bootpolicy runs full DHCP, TFTP
 * and HTTP on port 80 as the guide says.
 *
 * - BIOS: iPXE → /boot → `pxelinux-cfg.chain` → lpxelinux.0 → ldlinux.c32 (pathPrefix) → the
 *   generated pxelinux.cfg/01-<mac> → menu.c32 (+ libutil.c32) → its 3 s timeout → the default
 *   entry `install`, whose kernel and initrd are the payload under the guide's installer paths.
 * - UEFI: lpxelinux is a BIOS program, so the guide's policy boots the same entry from iPXE itself
 *   (`boot()`); the kernel gets the same APPEND.
 * Both machines are the guide's build01 (one MAC, booted one after the other: its serial console
 * is what shows the payload's report).
 */
import t from 'tap'
import { buildBootPayload } from '../helpers/boot-payload.js'
import { bootToMarkerTolerant, serverTail } from '../helpers/e2e-bootpolicy.js'
import { PXELINUX_FAILURES, PXELINUX_GUIDE, startPxelinuxGuideSite } from '../helpers/e2e-guide-sites.js'
import { createTestNet } from '../helpers/e2e-net.js'

// Real components (QEMU under TCG, namespaces, servers) on a loaded 2-core CI host: well past tap's 120 s per file (package.json).
t.setTimeout(600_000)

const { mac: MAC, append: APPEND } = PXELINUX_GUIDE

t.test('seed 003 guide as written: build01 boots through lpxelinux and its menu (BIOS) and through boot() (UEFI)', async (t) => {
  const payload = await buildBootPayload()
  const net = await createTestNet()
  t.teardown(() => net.close({ keepLogs: !t.passing() }))
  const server = await startPxelinuxGuideSite(net, payload)
  t.teardown(() => {
    if (!t.passing()) t.comment(serverTail(server))
  })
  t.same(server.guideFiles, ['bootpolicy.json', 'policies/10-per-mac.ts', 'policies/20-per-mac-pxelinux.ts'], "the guide's config and both policies are the fixture")

  await t.test('BIOS: lpxelinux, its generated config, menu.c32, the default entry', async (t) => {
    const boot = await bootToMarkerTolerant({ net, firmware: 'bios', mac: MAC, timeoutMs: 120_000, failOn: PXELINUX_FAILURES })
    t.comment(`bios: marker at ${boot.markerMs} ms after QEMU start (includes the menu's 3 s timeout)`)
    t.equal(boot.report.cmdline, `BOOT_IMAGE=debian-installer/amd64/linux ${APPEND} initrd=debian-installer/amd64/initrd.gz`, 'the kernel got the generated APPEND')
    t.match(boot.log, /PXELINUX 6\.\d+ lwIP/, 'lpxelinux loaded the kernel')
    t.match(boot.log, /Network boot: build01/, 'menu.c32 showed the generated title')

    const requests = server.httpRequests().map((r) => `${r.status} ${r.url}`)
    const mac01 = `01-${MAC.replaceAll(':', '-')}`
    t.same(
      requests.filter((r) => !r.startsWith('200 /boot?')),
      [
        '200 /boot.ipxe',
        '200 /files/lpxelinux.0',
        '200 /files/ldlinux.c32',
        `200 /files/pxelinux.cfg/${mac01}`,
        '200 /files/menu.c32',
        '200 /files/libutil.c32',
        `200 /files/pxelinux.cfg/${mac01}`, // menu.c32 reads the configuration again itself
        '200 /files/debian-installer/amd64/linux',
        '200 /files/debian-installer/amd64/initrd.gz',
      ],
      'the request sequence step 4 of the guide lists',
    )
    const d = server.decisionsFor(MAC)
    t.equal(d.length, 1, 'one /boot request')
    t.match(d[0], { decidedBy: 'policy:20-per-mac-pxelinux.ts', kind: 'pxelinux-cfg.chain', context: { mac: MAC, arch: 'i386-pcbios' } })
    t.ok(
      server.dhcpReplies().some((r) => r.mac === MAC && r.isIpxe && r.bootfile === `http://${net.serverIp}:80/boot.ipxe`),
      "bootpolicy's DHCP (port 80 as in the guide) handed iPXE the bootstrap",
    )
  })

  await t.test('UEFI: the same entry through boot(), no pxelinux', async (t) => {
    const before = server.httpRequests().length
    const boot = await bootToMarkerTolerant({ net, firmware: 'uefi', mac: MAC, timeoutMs: 120_000 })
    t.comment(`uefi: marker at ${boot.markerMs} ms after QEMU start`)
    t.equal(boot.report.cmdline, `linux ${APPEND} initrd=initrd.gz`, "iPXE's EFI build: image name first, then the APPEND and initrd=")
    const requests = server
      .httpRequests()
      .slice(before)
      .map((r) => `${r.status} ${r.url}`)
    t.same(
      requests.filter((r) => !r.startsWith('200 /boot?')),
      ['200 /boot.ipxe', '200 /files/debian-installer/amd64/linux', '200 /files/debian-installer/amd64/initrd.gz'],
      'no lpxelinux, no pxelinux.cfg',
    )
    const d = server.decisionsFor(MAC).filter((x) => x.context.arch === 'x86_64-efi')
    t.equal(d.length, 1, 'one /boot request from UEFI')
    t.match(d[0], { decidedBy: 'policy:20-per-mac-pxelinux.ts', kind: 'boot' })
  })

  t.same(server.problems(), [], 'no warnings or errors in the server log')
})
