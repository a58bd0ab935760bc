/**
 * Issue 15 scenario 2, seed 002's topology: the site's DHCP server is configured as pfSense is —
 * an address range, next-server and a boot file name (undionly.kpxe; ipxe.efi for option 93 = 7),
 * and no iPXE detection, so a stock iPXE would load undionly.kpxe again and again. The migration
 * that needs no custom iPXE build: bootpolicy beside it in proxy mode (UDP 67 + 4011) with TFTP and
 * HTTP, its config the one in docs/guides/migrate-smartos-pfsense.md (writeGuideFixture, via
 * test/helpers/e2e-seed-sites.ts).
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
import t from 'tap'
import { buildBootPayload } from '../helpers/boot-payload.js'
import { serverTail } from '../helpers/e2e-bootpolicy.js'
import { createTestNet } from '../helpers/e2e-net.js'
import { tail } from '../helpers/e2e-process.js'
import { bootThroughMenu, PFSENSE_FILES, SMARTOS_BUILDS, SMARTOS_HASH, SMARTOS_NEWEST, startSeed002Site } from '../helpers/e2e-seed-sites.js'
import type { Firmware } from '../helpers/qemu.js'

// Real components (QEMU under TCG, namespaces, servers) on a loaded 2-core CI host: well past tap's 120 s per file (package.json).
t.setTimeout(600_000)

const QUICK = process.env.BOOTPOLICY_E2E_QUICK === '1'
const clients: ReadonlyArray<{ firmware: Firmware; mac: string; siteFile: string }> = [
  { firmware: 'bios' as Firmware, mac: '52:54:00:e2:02:01', siteFile: PFSENSE_FILES.bios },
  { firmware: 'uefi' as Firmware, mac: '52:54:00:e2:02:02', siteFile: PFSENSE_FILES.efi64 },
].filter((c) => !QUICK || c.firmware === 'bios')

t.test('seed 002: pfSense-style DHCP (next-server + file) + bootpolicy proxyDHCP: no loop, SmartOS menu', async (t) => {
  const payload = await buildBootPayload()
  const net = await createTestNet()
  t.teardown(() => net.close({ keepLogs: !t.passing() }))
  const { server, site, close } = await startSeed002Site(net, payload)
  t.teardown(close)
  t.teardown(() => {
    if (!t.passing()) t.comment(`${serverTail(server)}\nsite dhcp:\n${tail(site.log(), 3000)}`)
  })
  t.match(server.config, { dhcp: { mode: 'proxy', serverAddress: net.serverIp }, plugins: [{ name: 'smartos' }] }, "the guide's config is what runs")
  t.same(server.logLines().find((l) => l.msg === 'smartos builds')?.builds, [...SMARTOS_BUILDS].reverse(), 'the plugin found both builds')

  // Exit is the last item: iPXE has drawn the whole menu. Enter takes the default, the newest build.
  // Both machines at once (see the seed-001 scenario: the file gets faster on 2 cores).
  const boots = await Promise.allSettled(clients.map(({ firmware, mac }) => bootThroughMenu({ net, firmware, mac, menu: /Exit \(boot local disk\)/, key: '\r', stopAtMenu: firmware !== 'bios' })))
  for (const [i, { firmware, mac, siteFile }] of clients.entries()) {
    await t.test(firmware, async (t) => {
      const settled = boots[i]!
      if (settled.status === 'rejected') throw settled.reason
      const boot = settled.value
      const { log } = boot
      t.match(log, new RegExp(`Filename: ${server.url}/boot\\.ipxe`), 'iPXE used the proxyDHCP boot file')
      for (const build of SMARTOS_BUILDS) t.match(log, `Boot SmartOS (${build}) noimport`, `${build} in the menu`)
      t.notMatch(log, new RegExp(`${siteFile}\\.\\.\\.`), `iPXE never fetched the site's ${siteFile}`)
      t.same(server.tftpTransfers(), [], 'nothing over TFTP: the ROM is iPXE and got the bootstrap')
      const decisions = server.decisionsFor(mac)
      t.equal(decisions.length, 1, 'one /boot request')
      t.match(decisions[0], { decidedBy: 'policy:20-smartos-menu.ts', kind: 'menu', context: { mac } })
      const proxy = server.logLines().filter((l) => l.msg === 'dhcp proxy reply' && (l.client as { mac: string }).mac === mac)
      // iPXE takes a proxy OFFER that already names a file as it is (no REQUEST to 4011).
      t.ok(proxy.length >= 1 && proxy.every((l) => l.reply === 2 && l.bootfile === `${server.url}/boot.ipxe` && l.reason === 'ipxe'), 'proxy OFFERs with /boot.ipxe')
      const acks = site
        .log()
        .split('\n')
        .filter((l) => l.includes(mac) && /DHCPACK/.test(l))
      t.ok(acks.length >= 1, 'the site server leased the address')
      t.match(site.log(), new RegExp(`option:\\s*67 bootfile-name\\s+${siteFile.replace('.', '\\.')}`), `and offered ${siteFile} (the loop bait)`)
      if (firmware === 'bios') {
        t.equal(boot.report?.cmdline, `-B console=text,root_shadow='${SMARTOS_HASH}',smartos=true`, 'the newest build booted with its -B list')
        t.ok(
          server.httpRequests().some((r) => r.status === 200 && r.url === `/files/smartos/${SMARTOS_NEWEST}/platform/i86pc/amd64/boot_archive`),
          'boot_archive of the newest build',
        )
        t.comment(`${firmware}: menu at ${boot.menuMs} ms, marker at ${boot.markerMs} ms after QEMU start`)
      } else {
        t.comment(`${firmware}: menu at ${boot.menuMs} ms after QEMU start`)
      }
    })
  }
  t.same(server.problems(), [], 'no warnings or errors in the server log')
})
