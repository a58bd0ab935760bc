/**
 * Issue 15 scenario 2, seed 002's topology: the site's DHCP server is configured as pfSense is —
 * an address range, next-server and a boot file name (undionly.kpxe; ipxe.efi for option 93 = 7),
 * and no iPXE detection, so a stock iPXE would load undionly.kpxe again and again. The migration
 * that needs no custom iPXE build: bootpolicy beside it in proxy mode (UDP 67 + 4011) with TFTP and
 * HTTP, its config the one in docs/guides/migrate-smartos-pfsense.md (writeGuideFixture).
 *
 * Which offer iPXE uses (measured here): the address from the site's offer, the boot file from the
 * first of its settings blocks that has one. iPXE keeps the lease and the proxy OFFER as two blocks
 * (`dhcp` under net0, `proxydhcp`; a proxy OFFER that already names a file is taken as is, without
 * a REQUEST to 4011), and at equal priority the lease comes first: before bootpolicy sent option
 * 175.1 (priority) = 1 in proxy replies to iPXE, iPXE printed `Filename: undionly.kpxe`, fetched
 * it from bootpolicy's TFTP and started over, every time. With the priority it prints
 * `Filename: http://<server>:8080/boot.ipxe`. The test checks iPXE's console, bootpolicy's DHCP
 * log and the site server's log (it did offer the bait).
 *
 * BIOS boots the newest build's entry (the menu default) to the marker. Under UEFI the test stops
 * at the menu: iPXE's EFI build has no multiboot, so a real SmartOS `unix` cannot boot there, and
 * our stand-in bzImage gets no `initrd=` on the plugin's kernel line.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { buildBootPayload, PAYLOAD_MARKER } from '../helpers/boot-payload.js'
import { parseMarkerReportTolerant, REPO_ROOT, serverTail, startBootpolicy } from '../helpers/e2e-bootpolicy.js'
import { createTestNet } from '../helpers/e2e-net.js'
import { tail } from '../helpers/e2e-process.js'
import { serialReportingInitrd } from '../helpers/e2e-serial-init.js'
import { startSiteDhcp } from '../helpers/e2e-site-dhcp.js'
import { writeGuideFixture } from '../helpers/guide-fixture.js'
import { BOOT_FAILURES, type Firmware, startQemu } from '../helpers/qemu.js'

export const GUIDE = join(REPO_ROOT, 'docs', 'guides', 'migrate-smartos-pfsense.md')
const QUICK = process.env.BOOTPOLICY_E2E_QUICK === '1'
const BUILDS = ['20240101T000000Z', '20250606T123456Z']
const NEWEST = '20250606T123456Z'
const HASH = '$5$rounds=5000$e2eSalt$Qm9vdHBvbGljeUUyZVRlc3RIYXNoVmFsdWUx'

const clients: ReadonlyArray<{ firmware: Firmware; mac: string; siteFile: string }> = [
  { firmware: 'bios' as Firmware, mac: '52:54:00:e2:02:01', siteFile: 'undionly.kpxe' },
  { firmware: 'uefi' as Firmware, mac: '52:54:00:e2:02:02', siteFile: 'ipxe.efi' },
].filter((c) => !QUICK || c.firmware === 'bios')

t.test('seed 002: pfSense-style DHCP (next-server + file) + bootpolicy proxyDHCP: no loop, SmartOS menu', async (t) => {
  const payload = await buildBootPayload()
  const net = await createTestNet()
  t.teardown(() => net.close({ keepLogs: !t.passing() }))
  // pfSense: "TFTP server" = next-server, "Default BIOS file name", "UEFI 64 bit file name".
  const site = await startSiteDhcp(net, {
    bootLines: [
      'dhcp-match=set:efi64,option:client-arch,7',
      `dhcp-boot=tag:efi64,ipxe.efi,,${net.serverIp}`,
      `dhcp-boot=tag:!efi64,undionly.kpxe,,${net.serverIp}`,
    ],
  })
  t.teardown(() => site.close())

  const root = join(net.dir, 'bootpolicy')
  const fixture = writeGuideFixture(GUIDE, root, {
    '10.1.1.7': net.serverIp,
    '/srv/files': join(root, 'files'),
    '/srv/tftp': join(root, 'tftp'),
    '$5$<salt>$<hash>': HASH,
  })
  const guideConfig = JSON.parse(fixture['bootpolicy.json']!) as Record<string, unknown>
  const bootArchive = join(net.dir, 'boot_archive')
  writeFileSync(bootArchive, serialReportingInitrd(payload))
  const extraFiles: Record<string, string> = {}
  for (const build of BUILDS) {
    extraFiles[`smartos/${build}/platform/i86pc/kernel/amd64/unix`] = payload.kernel
    extraFiles[`smartos/${build}/platform/i86pc/amd64/boot_archive`] = bootArchive
  }
  const server = await startBootpolicy({
    net,
    scenario: 'seed-002',
    policiesDir: join(root, 'policies', 'smartos'),
    payload,
    tftpFiles: ['undionly.kpxe', 'ipxe.efi'],
    extraFiles,
    config: guideConfig,
  })
  t.teardown(() => {
    if (!t.passing()) t.comment(`${serverTail(server)}\nsite dhcp:\n${tail(site.log(), 3000)}`)
  })
  t.match(server.config, { dhcp: { mode: 'proxy', serverAddress: net.serverIp }, plugins: [{ name: 'smartos' }] }, 'the guide\'s config is what runs')
  t.same(server.logLines().find((l) => l.msg === 'smartos builds')?.builds, [...BUILDS].reverse(), 'the plugin found both builds')

  for (const { firmware, mac, siteFile } of clients) {
    await t.test(firmware, async (t) => {
      const vm = await startQemu({ net, firmware, mac, name: `qemu-${firmware}` })
      try {
        // The last item: iPXE has drawn the whole menu.
        const menu = await vm.waitFor(/Exit \(boot local disk\)/, 180_000, { failOn: BOOT_FAILURES })
        const log = vm.log()
        t.match(log, new RegExp(`Filename: ${server.url}/boot\\.ipxe`), 'iPXE used the proxyDHCP boot file')
        for (const build of BUILDS) t.match(log, `Boot SmartOS (${build}) noimport`, `${build} in the menu`)
        t.notMatch(log, new RegExp(`${siteFile}\\.\\.\\.`), `iPXE never fetched the site's ${siteFile}`)
        t.same(server.tftpTransfers(), [], 'nothing over TFTP: the ROM is iPXE and got the bootstrap')
        const decisions = server.decisionsFor(mac)
        t.equal(decisions.length, 1, 'one /boot request')
        t.match(decisions[0], { decidedBy: 'policy:20-smartos-menu.ts', kind: 'menu', context: { mac } })
        const proxy = server.logLines().filter((l) => l.msg === 'dhcp proxy reply' && (l.client as { mac: string }).mac === mac)
        // iPXE takes a proxy OFFER that already names a file as it is (no REQUEST to 4011).
        t.ok(proxy.length >= 1 && proxy.every((l) => l.reply === 2 && l.bootfile === `${server.url}/boot.ipxe` && l.reason === 'ipxe'), 'proxy OFFERs with /boot.ipxe')
        const acks = site.log().split('\n').filter((l) => l.includes(mac) && /DHCPACK/.test(l))
        t.ok(acks.length >= 1, 'the site server leased the address')
        t.match(site.log(), new RegExp(`bootfile-name\\s+${siteFile.replace('.', '\\.')}|filename: ${siteFile.replace('.', '\\.')}`), `and offered ${siteFile} (the loop bait)`)
        if (firmware === 'bios') {
          vm.process.write('\r')
          const done = await vm.waitFor(new RegExp(PAYLOAD_MARKER), 120_000, { failOn: BOOT_FAILURES })
          const report = parseMarkerReportTolerant(vm.log())
          t.equal(report?.cmdline, `-B console=text,root_shadow='${HASH}',smartos=true`, 'the newest build booted with its -B list')
          t.ok(server.httpRequests().some((r) => r.status === 200 && r.url === `/files/smartos/${NEWEST}/platform/i86pc/amd64/boot_archive`), 'boot_archive of the newest build')
          t.comment(`${firmware}: menu at ${menu.atMs} ms, marker at ${done.atMs} ms after QEMU start`)
        } else {
          t.comment(`${firmware}: menu at ${menu.atMs} ms after QEMU start`)
        }
      } finally {
        await vm.stop()
      }
    })
  }
  t.same(server.problems(), [], 'no warnings or errors in the server log')
})
